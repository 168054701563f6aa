#pragma once
/// \file
/// `SEAM_API`: marks what Seam's libraries export.
///
/// Seam's libraries are built with `-fvisibility=hidden`, so that a shared build
/// (`-DBUILD_SHARED_LIBS=ON`) exports the public API and nothing else. Every class, function
/// and inline variable that a public header declares and a library source defines carries
/// `SEAM_API`: also the `detail` ones that public inline code or another layer calls.

/// Gives a declaration default visibility: exported from Seam's shared libraries. The same
/// objects make the static libraries, where it changes nothing.
#define SEAM_API __attribute__((visibility("default")))

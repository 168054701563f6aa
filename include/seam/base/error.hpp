#pragma once
/// \file
/// What every layer's errors share. Each layer declares its own error enum and category
/// (`seam::arena_errc` "seam.arena", `seam::session_errc` "seam.session") in
/// `seam/<layer>/error.hpp`, and adds its values to the namespace `seam::errc`, so that every
/// code is spelled the same way whichever layer made it: `ec == seam::errc::peer_closed`.

#include <system_error>

namespace seam {

/// Throws `std::system_error` for `ec` if it holds an error; `what` says what was being done.
inline void throw_if(const std::error_code& ec, const char* what) {
  if (ec) throw std::system_error(ec, what);
}

}  // namespace seam

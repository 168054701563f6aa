#pragma once
/// \file
/// `seam::type_fingerprint<T>()`: a 64-bit tag of a type that is the same in every process built
/// from the same type definition, so that an object found by name is never read as another type.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace seam {

namespace detail {

/// The compiler's spelling of `T`, cut out of `__PRETTY_FUNCTION__`. gcc writes
/// "… raw_type_name() [with T = int]", clang "… raw_type_name() [T = int]": the name is what
/// follows the first "T = " up to the final ']'. Returning `const char*` (not a typedef such as
/// `std::string_view`) keeps gcc from appending "; string_view = …" to the bracket.
template <class T>
constexpr const char* raw_type_name() noexcept {
  return __PRETTY_FUNCTION__;
}

constexpr std::string_view cut_type_name(std::string_view pretty) noexcept {
  const std::size_t start = pretty.find("T = ");
  if (start == std::string_view::npos || pretty.empty() || pretty.back() != ']') return pretty;
  return pretty.substr(start + 4, pretty.size() - 1 - (start + 4));
}

/// 64-bit FNV-1a: simple, constexpr, and plenty for telling a few hundred type names apart.
constexpr std::uint64_t fnv1a(std::string_view bytes,
                              std::uint64_t h = 0xcbf29ce484222325ull) noexcept {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

/// A final avalanche (from MurmurHash3's fmix64), so that size and alignment move every bit.
constexpr std::uint64_t mix64(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

template <class T>
concept has_seam_type_name = requires {
  { T::seam_type_name } -> std::convertible_to<std::string_view>;
};

}  // namespace detail

/// The name that identifies `T` in an arena's directory of named objects.
///
/// By default the compiler's spelling of the type (cv-qualifiers removed), e.g. `app::order` or
/// `seam::map<int, long int>` (gcc) / `seam::map<int, long>` (clang). A type may choose its
/// own, stable across compilers and meant to be changed when its layout changes:
/// `struct order { static constexpr std::string_view seam_type_name = "app::order/v2"; … };`
template <class T>
constexpr std::string_view type_name() noexcept {
  using U = std::remove_cv_t<T>;
  if constexpr (detail::has_seam_type_name<U>) {
    return std::string_view(U::seam_type_name);
  } else {
    return detail::cut_type_name(detail::raw_type_name<U>());
  }
}

/// A 64-bit tag of `T`: its `type_name`, size and alignment, hashed. Computed at compile time.
///
/// Equal in every process built from the same definition of `T` with the same compiler family,
/// whatever the build's flags or addresses (no RTTI, no pointers). It catches a lookup with
/// another type (`int` vs `float`, `map<int, int>` vs `map<int, long>`), and a type that kept
/// its name but changed its size or alignment. It CANNOT catch a type that changed its members
/// and kept its name, size and alignment (fields reordered, `int` turned into `float`), nor two
/// unrelated programs that each define a different `app::order` of the same size; give such a
/// type a versioned `seam_type_name`. gcc and clang spell many types differently
/// (`std::__cxx11::basic_string` vs `std::basic_string`, `long int` vs `long`), so a process
/// built with one may see `errc::type_mismatch` for an object made by the other unless the type
/// declares `seam_type_name`: a refusal, never a reinterpretation.
template <class T>
constexpr std::uint64_t type_fingerprint() noexcept {
  std::uint64_t h = detail::fnv1a(type_name<T>());
  h = detail::mix64(h ^ static_cast<std::uint64_t>(sizeof(T)));
  h = detail::mix64(h ^ (static_cast<std::uint64_t>(alignof(T)) << 32));
  return h;
}

namespace detail {

/// What the directory records of a named object's type, and what a lookup compares.
struct named_type {
  std::uint64_t size;
  std::uint64_t alignment;
  std::uint64_t fingerprint;
};

template <class T>
constexpr named_type named_type_of() noexcept {
  return {sizeof(T), alignof(T), type_fingerprint<T>()};
}

}  // namespace detail

}  // namespace seam

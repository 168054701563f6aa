#pragma once
/// \file
/// What every layer's errors share. Each layer declares its own error enum and category
/// (`seam::arena_errc` "seam.arena", `seam::session_errc` "seam.session") in
/// `seam/<layer>/error.hpp`, and adds its values to the namespace `seam::errc`, so that every
/// code is spelled the same way whichever layer made it: `ec == seam::errc::peer_closed`.

#include <new>
#include <system_error>
#include <type_traits>

namespace seam {

/// Throws `std::system_error` for `ec` if it holds an error; `what` says what was being done.
inline void throw_if(const std::error_code& ec, const char* what) {
  if (ec) throw std::system_error(ec, what);
}

/// Runs `f` (a call written once, throwing) and reports what it throws in `ec` instead:
/// `std::system_error` as its code, `std::bad_alloc` as `std::errc::not_enough_memory`.
/// Returns what `f` returned, or a value-initialised result on an error. For the
/// non-throwing `std::error_code&` overloads.
template <class F>
std::invoke_result_t<F> capture_error(std::error_code& ec, F&& f) noexcept {
  ec.clear();
  try {
    return f();
  } catch (const std::system_error& e) {
    ec = e.code();
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  if constexpr (!std::is_void_v<std::invoke_result_t<F>>) return {};
}

}  // namespace seam

#pragma once
/// \file
/// `seam::message`: what a channel carries: bytes, file descriptors and handles.

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "seam/base/handle.hpp"
#include "seam/base/unique_fd.hpp"

namespace seam {

namespace detail {
/// An allocator whose `resize` leaves new bytes uninitialised: a transport writes every byte
/// it receives, and zeroing a 1 GiB message first would cost as much as copying it.
template <class T>
struct default_init_allocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = default_init_allocator<U>;
  };
  using std::allocator<T>::allocator;
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
}  // namespace detail

/// The bytes of a message: a `std::vector` of bytes (whose `resize` does not zero).
using message_bytes = std::vector<std::byte, detail::default_init_allocator<std::byte>>;

/// A message received from a channel. Owns the descriptors that came with it.
struct message {
  /// The payload.
  message_bytes bytes;
  /// Descriptors that came with the message, owned by it.
  std::vector<unique_fd> fds;
  /// Handles into arenas the session can read (checked: arena known, inside it).
  std::vector<handle<std::byte>> handles;

  /// The bytes as text.
  std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

}  // namespace seam

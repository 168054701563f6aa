#pragma once
// The arenas that peers share with this process, each mapped once however many sessions share
// it (one dataset shared with 2,500 sessions of a client is one mapping there, not 2,500).

#include <memory>
#include <system_error>

#include "seam/arena/arena_view.hpp"

namespace seam::detail {

/// The read-only view of the arena behind `fd`: the one already mapped in this process if a
/// session has it, else a new one. Arenas are told apart by the identity of their file (device
/// and inode, which the kernel gives and a peer cannot forge), never by the id a peer claims.
/// Thread-safe. Errors as `arena_view::open`.
std::shared_ptr<const arena_view> map_shared(int fd, std::error_code& ec) noexcept;

}  // namespace seam::detail

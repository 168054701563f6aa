#pragma once
// The only place in Seam that calls memfd_create, mmap, fcntl seals and fallocate.

#include <cstddef>
#include <string>
#include <system_error>

#include "seam/arena/unique_fd.hpp"

namespace seam::detail {

/// Alignment of every arena mapping, in the owner and in views: 2 MiB, the size of a huge page,
/// so that alignments up to 2 MiB inside the arena hold in every process.
inline constexpr std::size_t mapping_alignment = std::size_t{2} << 20;

/// A sparse memfd of `size` bytes named `name` (close-on-exec, sealable).
unique_fd create_memfd(const char* name, std::size_t size, std::error_code& ec) noexcept;

/// Maps `size` bytes of `fd` shared at a `mapping_alignment`-aligned address; writable or not.
void* map_aligned(int fd, std::size_t size, bool writable, std::error_code& ec) noexcept;
void unmap(void* p, std::size_t size) noexcept;

/// Seals `fd` against shrinking and growing (unless it is sealed already) and makes it mode
/// 0400, then opens a new, read-only file description of it (through /proc/self/fd), so the
/// receiver cannot write or truncate it. The mode stops other uids from reopening it for
/// writing; a receiver of the owner's uid can `fchmod` it and reopen it, and then write it
/// unless it was sealed by `seal_strict`.
unique_fd share_read_only(int fd, std::error_code& ec) noexcept;

/// Seals `fd` against shrinking and growing (as `share_read_only` does) and returns a duplicate
/// of the owner's read-write fd, for a process that will write the arena too.
unique_fd share_read_write(int fd, std::error_code& ec) noexcept;

/// True if `fd` was opened for reading and writing.
bool is_writable(int fd) noexcept;

/// A pidfd of the process `pid` (invalid, with errno set, if there is none).
unique_fd open_pidfd(int pid) noexcept;

/// True if the process of `pidfd` has ended (a poll that does not wait).
bool process_ended(int pidfd) noexcept;

/// Seals `fd` for `isolation::strict`: against shrinking, growing, every future writable
/// mapping, write and fallocate (`F_SEAL_FUTURE_WRITE`), and against further seals, and makes
/// it mode 0400. Mappings made before keep writing: call it after the owner's own mapping.
/// Holes can no longer be punched afterwards (`punch_hole` fails).
void seal_strict(int fd, std::error_code& ec) noexcept;

/// True if `fd` carries `F_SEAL_FUTURE_WRITE`: no process can map it writable any more.
bool is_strict(int fd) noexcept;

/// True if `fd` carries the seals `share_read_only` sets. A view refuses an unsealed fd: its
/// owner could shrink it and crash the reader with SIGBUS.
bool is_sealed(int fd) noexcept;

/// Size of the file behind `fd`, or -1 with `ec` set.
long long file_size(int fd, std::error_code& ec) noexcept;

/// Bytes of memory the file behind `fd` holds (its allocated blocks).
std::size_t resident_bytes(int fd) noexcept;

/// Gives the pages of [offset, offset + size) back to the kernel; they read as zero afterwards.
/// Returns false on failure. `MADV_DONTNEED` would neither free nor zero shared pages. Without
/// a descriptor (`fd` < 0: the arena dropped it), through its writable mapping at `base`
/// (`MADV_REMOVE`, the same hole punched).
bool punch_hole(int fd, std::byte* base, std::size_t offset, std::size_t size) noexcept;

/// Bytes of address space this process may still map under RLIMIT_AS (`ulimit -v`): the soft
/// limit less what is mapped now; SIZE_MAX without a limit.
std::size_t address_space_left() noexcept;

/// Why mapping `size` bytes failed with `ec`: for ENOMEM, `errc::map_count_limit` when the
/// process is at `vm.max_map_count`, else `errc::address_space_limit` (RLIMIT_AS or the 47-bit
/// address space); other errors unchanged. `what` gets the figures and the limit to raise.
std::error_code explain_map_failure(std::error_code ec, std::size_t size,
                                    std::string& what) noexcept;

/// 64 random bits from the kernel.
std::uint64_t random_u64() noexcept;

}  // namespace seam::detail

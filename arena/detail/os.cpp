#include "arena/detail/os.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "seam/arena/error.hpp"

namespace seam::detail {
namespace {

constexpr int share_seals = F_SEAL_SHRINK | F_SEAL_GROW;

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

}  // namespace

unique_fd create_memfd(const char* name, std::size_t size, std::error_code& ec) noexcept {
  unique_fd fd{::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)};
  if (!fd) {
    ec = last_error();
    return {};
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    ec = last_error();
    return {};
  }
  ec.clear();
  return fd;
}

void* map_aligned(int fd, std::size_t size, bool writable, std::error_code& ec) noexcept {
  // Reserve room for an aligned start, map the file over it, then drop the slack either side.
  const std::size_t span = size + mapping_alignment;
  void* reserved = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                          -1, 0);
  if (reserved == MAP_FAILED) {
    ec = last_error();
    return nullptr;
  }
  const auto start = reinterpret_cast<std::uintptr_t>(reserved);
  const auto aligned = (start + mapping_alignment - 1) & ~(mapping_alignment - 1);
  const int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void* p = ::mmap(reinterpret_cast<void*>(aligned), size, prot, MAP_SHARED | MAP_FIXED, fd, 0);
  if (p == MAP_FAILED) {
    ec = last_error();
    ::munmap(reserved, span);
    return nullptr;
  }
  if (aligned > start) ::munmap(reserved, aligned - start);
  const std::uintptr_t end = aligned + size;
  if (start + span > end) ::munmap(reinterpret_cast<void*>(end), start + span - end);
  ec.clear();
  return p;
}

void unmap(void* p, std::size_t size) noexcept {
  if (p != nullptr) ::munmap(p, size);
}

void seal_strict(int fd, std::error_code& ec) noexcept {
  // F_SEAL_SEAL last of all: a reader that reopens the memfd writable (it can, after fchmod)
  // could otherwise add seals of its own.
  if (::fcntl(fd, F_ADD_SEALS, share_seals | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0 ||
      ::fchmod(fd, 0400) != 0) {
    ec = last_error();
    return;
  }
  ec.clear();
}

bool is_strict(int fd) noexcept {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  return seals >= 0 && (seals & F_SEAL_FUTURE_WRITE) != 0;
}

unique_fd share_read_only(int fd, std::error_code& ec) noexcept {
  // A strict arena's seals are all there, F_SEAL_SEAL included (adding any would fail).
  if ((!is_sealed(fd) && ::fcntl(fd, F_ADD_SEALS, share_seals) != 0) || ::fchmod(fd, 0400) != 0) {
    ec = last_error();
    return {};
  }
  char path[32];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  unique_fd ro{::open(path, O_RDONLY | O_CLOEXEC)};
  if (!ro) {
    ec = last_error();
    return {};
  }
  ec.clear();
  return ro;
}

unique_fd share_read_write(int fd, std::error_code& ec) noexcept {
  if (!is_sealed(fd) && ::fcntl(fd, F_ADD_SEALS, share_seals) != 0) {
    ec = last_error();
    return {};
  }
  // The owner's own description: after `share_read_only` made the file 0400, reopening it for
  // writing through /proc would be refused.
  unique_fd rw{::fcntl(fd, F_DUPFD_CLOEXEC, 0)};
  if (!rw) {
    ec = last_error();
    return {};
  }
  ec.clear();
  return rw;
}

bool is_writable(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_ACCMODE) == O_RDWR;
}

unique_fd open_pidfd(int pid) noexcept {
  return unique_fd{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))};
}

bool process_ended(int pidfd) noexcept {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

bool is_sealed(int fd) noexcept {
  const int seals = ::fcntl(fd, F_GET_SEALS);
  return seals >= 0 && (seals & share_seals) == share_seals;
}

long long file_size(int fd, std::error_code& ec) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ec = last_error();
    return -1;
  }
  ec.clear();
  return st.st_size;
}

std::size_t resident_bytes(int fd) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return 0;
  return static_cast<std::size_t>(st.st_blocks) * 512;
}

bool punch_hole(int fd, std::byte* base, std::size_t offset, std::size_t size) noexcept {
  if (fd < 0) return ::madvise(base + offset, size, MADV_REMOVE) == 0;
  return ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                     static_cast<off_t>(size)) == 0;
}

namespace {

// Bytes mapped by this process now (VmSize), from the first field of /proc/self/statm.
std::size_t mapped_bytes() noexcept {
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return 0;
  unsigned long long pages = 0;
  const int n = std::fscanf(f, "%llu", &pages);
  std::fclose(f);
  return n == 1 ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(::getpagesize()) : 0;
}

// Lines of a /proc file, read through a buffer on the stack.
std::size_t count_lines(const char* path) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t lines = 0;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
    for (ssize_t i = 0; i < n; ++i) lines += buffer[i] == '\n';
  }
  ::close(fd);
  return lines;
}

std::string gib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1u << 30));
  return text;
}

}  // namespace

std::size_t address_space_left() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  const std::size_t used = mapped_bytes();
  return limit.rlim_cur > used ? static_cast<std::size_t>(limit.rlim_cur - used) : 0;
}

std::error_code explain_map_failure(std::error_code ec, std::size_t size,
                                    std::string& what) noexcept {
  if (ec != std::errc::not_enough_memory) return ec;
  // Every mapping is a line of /proc/self/maps; the kernel refuses one more at the limit.
  // Counted without allocating: at the limit, malloc may have no mapping left either.
  const std::size_t mappings = count_lines("/proc/self/maps");
  std::size_t max_mappings = 0;
  {
    char text[32] = {};
    const int fd = ::open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (::read(fd, text, sizeof text - 1) > 0) max_mappings = std::strtoull(text, nullptr, 10);
      ::close(fd);
    }
  }
  const bool at_map_count = max_mappings != 0 && mappings + 3 >= max_mappings;
  try {
    what.clear();
    if (at_map_count) {
      what = std::to_string(mappings) +
             " mappings of vm.max_map_count = " + std::to_string(max_mappings) +
             " (raise it with sysctl, or use fewer arenas)";
      return errc::map_count_limit;
    }
    rlimit limit{};
    const std::size_t used = mapped_bytes();
    if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
      what = "RLIMIT_AS (ulimit -v) is " + gib(limit.rlim_cur) + ", " + gib(used) + " mapped, " +
             gib(size) + " asked (raise the limit or lower the capacity)";
    } else {
      what = "the address space is full: " + gib(used) + " mapped, " + gib(size) +
             " asked (lower the capacity)";
    }
  } catch (...) {
    what.clear();
  }
  return at_map_count ? std::error_code(errc::map_count_limit) : errc::address_space_limit;
}

std::uint64_t random_u64() noexcept {
  std::uint64_t value = 0;
  // getrandom of 8 bytes from the urandom pool never blocks after early boot nor returns short.
  while (::getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
  }
  return value;
}

}  // namespace seam::detail

#pragma once
// What the benchmarks that compare against Boost.Interprocess share: a managed_shared_memory
// segment sized to fit /dev/shm and removed at exit, and the name of the library that serves
// malloc (the "malloc"/"std" baselines are meant to be jemalloc).

#include <dlfcn.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstddef>
#include <cstdlib>
#include <string>

namespace seam::bench {

/// `wanted` bytes, or less: /dev/shm is a tmpfs whose pages are charged on first touch, so a
/// segment larger than the space left would SIGBUS mid-run (Docker's default is 64 MiB). Stay
/// well inside what is free; a run that does not fit then fails with a clear allocation error.
inline std::size_t segment_bytes(std::size_t wanted) {
  struct statvfs fs {};
  if (::statvfs("/dev/shm", &fs) != 0) return wanted;
  const std::size_t available = static_cast<std::size_t>(fs.f_bavail) * fs.f_frsize;
  return std::min(wanted, available / 4 * 3);
}

/// A segment name unique to this process; the segment is removed when the name goes (and a
/// stale one of a recycled pid up front).
class segment_name {
 public:
  explicit segment_name(const std::string& program)
      : m_name(program + "." + std::to_string(::getpid())) {
    boost::interprocess::shared_memory_object::remove(m_name.c_str());
  }
  segment_name(const segment_name&) = delete;
  segment_name& operator=(const segment_name&) = delete;
  ~segment_name() { boost::interprocess::shared_memory_object::remove(m_name.c_str()); }
  const char* c_str() const noexcept { return m_name.c_str(); }

 private:
  std::string m_name;
};

/// The file of the library whose malloc this process calls (depends on link order).
inline std::string malloc_provider() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&std::malloc), &info) == 0 || info.dli_fname == nullptr) {
    return "unknown";
  }
  return info.dli_fname;
}

}  // namespace seam::bench

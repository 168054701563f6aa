#pragma once
// Pushing a (child) process to its limits, for the tests of the errors that name them: file
// descriptors, address space, memory mappings. Only ever called in forked children: what they
// take is never given back.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <vector>

// Sanitizers map shadow memory of their own: the tests that fill the map count skip under them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SEAM_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SEAM_TEST_SANITIZED 1
#endif
#endif

namespace seam::test {

/// True in a sanitizer build (see above).
inline constexpr bool sanitized =
#ifdef SEAM_TEST_SANITIZED
    true;
#else
    false;
#endif

/// Bytes this process maps now (VmSize).
inline std::size_t mapped_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long long pages = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%llu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return static_cast<std::size_t>(pages) * static_cast<std::size_t>(::getpagesize());
}

/// Takes every free descriptor but `left`: RLIMIT_NOFILE is lowered to just above the highest
/// open one (so filling is quick), then /dev/null is opened until EMFILE.
inline void leave_free_fds(int left) {
  int highest = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(e.path().filename().string()));
  }
  const rlimit r{static_cast<rlim_t>(highest) + 64, static_cast<rlim_t>(highest) + 64};
  ::setrlimit(RLIMIT_NOFILE, &r);
  std::vector<int> taken;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) taken.push_back(fd);
  for (int i = 0; i < left && !taken.empty(); ++i) {
    ::close(taken.back());
    taken.pop_back();
  }
}

/// Lets the process map only `extra` bytes more (RLIMIT_AS = VmSize + extra).
inline void limit_address_space(std::size_t extra) {
  const rlim_t limit = mapped_bytes() + extra;
  const rlimit r{limit, limit};
  ::setrlimit(RLIMIT_AS, &r);
}

/// Maps single pages of alternating protection (so that none merge) until the kernel refuses
/// one more (the process is at vm.max_map_count), then unmaps `left` of them.
inline void fill_mappings(int left) {
  std::vector<void*> last;
  last.reserve(static_cast<std::size_t>(left));
  for (int i = 0;; ++i) {
    void* p =
        ::mmap(nullptr, 4096, i % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) break;
    if (left == 0) continue;
    if (last.size() == static_cast<std::size_t>(left)) last.erase(last.begin());
    last.push_back(p);
  }
  for (void* p : last) ::munmap(p, 4096);
}

}  // namespace seam::test

#pragma once
// What every Seam fuzzer shares: typed reads off the fuzzer's input, and a check that stays on
// in every build type. A fuzzer finds bugs through its failed checks as much as through the
// sanitizers, so the checks must not vanish with NDEBUG the way `assert` and `SEAM_ASSERT` do.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <type_traits>

namespace seam::fuzz {

[[noreturn]] inline void check_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, condition);
  std::abort();
}

/// Aborts (so libFuzzer saves the input) when `condition` is false.
#define SEAM_FUZZ_CHECK(condition) \
  ((condition) ? static_cast<void>(0) : ::seam::fuzz::check_failed(#condition, __FILE__, __LINE__))

/// Reads the fuzzer's input front to back. Once it runs out every read yields zeros, so that
/// every input, however short, decodes to something: the fuzzer wastes no runs on early exits.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) noexcept : m_data(data), m_size(size) {}

  /// The next `sizeof(T)` bytes as a `T` (little-endian on this platform), zero-padded.
  template <class T>
  T take() noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    T value{};
    const std::size_t n = sizeof value < left() ? sizeof value : left();
    if (n != 0) std::memcpy(&value, m_data + m_at, n);
    m_at += n;
    return value;
  }

  /// Every byte not read yet (consumed).
  std::span<const std::uint8_t> rest() noexcept {
    const std::span<const std::uint8_t> r{m_data + m_at, left()};
    m_at = m_size;
    return r;
  }

  std::size_t left() const noexcept { return m_size - m_at; }
  bool empty() const noexcept { return left() == 0; }

 private:
  const std::uint8_t* m_data;
  std::size_t m_size;
  std::size_t m_at = 0;
};

/// Reads every byte of `bytes` so that an out-of-bounds range shows up under ASan (or as a
/// SIGSEGV in memory ASan does not track, such as a mapping), and returns a value that depends
/// on all of them so the compiler cannot drop the reads.
inline std::uint64_t touch(const void* bytes, std::size_t size) noexcept {
  const auto* p = static_cast<const volatile unsigned char*>(bytes);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < size; ++i) sum = sum * 31 + p[i];
  return sum;
}

}  // namespace seam::fuzz

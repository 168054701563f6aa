#pragma once
// The perf demo's "file": N bytes in 16 KiB parts, each with a hash of its bytes, so the client
// can check every byte it received without being told what the bytes are. Shared by the server
// (which builds files) and the client (which checks them), plus the size syntax of the flags.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "perf_demo.capnp.h"

namespace perf_demo {

inline constexpr std::size_t KiB = std::size_t{1} << 10;
inline constexpr std::size_t MiB = std::size_t{1} << 20;
inline constexpr std::size_t GiB = std::size_t{1} << 30;
/// Bytes of one part (the last part of a file may be shorter).
inline constexpr std::size_t part_bytes = 16 * KiB;
/// Largest file the server agrees to build (it lives in the server's arena until it exits).
inline constexpr std::size_t max_file_bytes = 4 * GiB;
/// Session name of the server unless `--app` says otherwise.
inline constexpr std::string_view default_app = "seam-perf-demo";

inline std::size_t part_count(std::size_t file_bytes) {
  return (file_bytes + part_bytes - 1) / part_bytes;
}

/// A 64-bit hash of `n` bytes. Four independent lanes, so that checking 1 GiB is bound by
/// memory bandwidth rather than by the latency of one multiply chain (the client checks every
/// byte after every round trip).
inline std::uint64_t hash_part(const unsigned char* p, std::size_t n) {
  constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ull, k2 = 0xC2B2AE3D27D4EB4Full;
  std::uint64_t lane[4] = {n, k1, k2, ~n};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int l = 0; l < 4; ++l) {
      std::uint64_t w;
      std::memcpy(&w, p + i + 8 * l, 8);
      lane[l] = std::rotl(lane[l] ^ (w * k1), 29) * k2;
    }
  }
  std::uint64_t h =
      lane[0] ^ std::rotl(lane[1], 16) ^ std::rotl(lane[2], 32) ^ std::rotl(lane[3], 48);
  for (; i < n; ++i) h = std::rotl(h ^ p[i], 7) * k1;
  h ^= h >> 31;
  return h * k2;
}

/// Fills part `index` of a file of `file_bytes` bytes: each word is the SplitMix64 finalizer
/// (a public-domain mixing function) of a counter, so that every word is computed independently
/// (fast to build) and differs for every part and every size.
inline void fill_part(unsigned char* p, std::size_t n, std::size_t file_bytes, std::size_t index) {
  const std::uint64_t seed = (file_bytes * 0xD6E8FEB86659FD93ull) ^ (index << 20);
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t x = seed + i * 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    std::memcpy(p + i, &x, n - i < 8 ? n - i : 8);
  }
}

/// Words a `File` of `file_bytes` bytes takes in a message: root pointer, the File struct (one
/// data word, two pointers), the parts list (tag, then one data word and one pointer each),
/// and the parts' bytes rounded up to words.
inline std::size_t file_message_words(std::size_t file_bytes) {
  const std::size_t parts = part_count(file_bytes);
  return 1 + 3 + 1 + 2 * parts + file_bytes / 8 + parts + 8;
}

/// Builds the whole file into `file`.
inline void build_file(File::Builder file, std::size_t file_bytes) {
  const std::size_t parts = part_count(file_bytes);
  file.setSize(file_bytes);
  auto list = file.initParts(static_cast<unsigned>(parts));
  for (std::size_t i = 0; i < parts; ++i) {
    const std::size_t n = i + 1 < parts ? part_bytes : file_bytes - i * part_bytes;
    auto part = list[static_cast<unsigned>(i)];
    auto data = part.initData(static_cast<unsigned>(n));
    fill_part(data.begin(), n, file_bytes, i);
    part.setHash(hash_part(data.begin(), n));
  }
}

/// Checks a received file: its size, its layout, and every part's hash. Returns what is wrong,
/// or an empty string.
inline std::string check_file(File::Reader file, std::size_t file_bytes) {
  if (file.hasError()) return "server error: " + std::string(file.getError().cStr());
  if (file.getSize() != file_bytes) {
    return "size " + std::to_string(file.getSize()) + ", expected " + std::to_string(file_bytes);
  }
  const auto parts = file.getParts();
  if (parts.size() != part_count(file_bytes)) {
    return std::to_string(parts.size()) + " parts, expected " +
           std::to_string(part_count(file_bytes));
  }
  std::size_t total = 0;
  for (unsigned i = 0; i < parts.size(); ++i) {
    const auto data = parts[i].getData();
    if (hash_part(data.begin(), data.size()) != parts[i].getHash()) {
      return "part " + std::to_string(i) + " does not match its hash";
    }
    total += data.size();
  }
  if (total != file_bytes) return std::to_string(total) + " bytes in parts";
  return {};
}

/// Parses "100K", "1M", "1G" (KiB, MiB, GiB; an "iB" or "B" after the letter is allowed) or a
/// plain number of bytes. Empty on a syntax error, zero, or more than `max_file_bytes`.
inline std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t value = 0, i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (value > max_file_bytes) return std::nullopt;
    value = value * 10 + static_cast<std::size_t>(text[i] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  std::size_t scale = 1;
  if (!unit.empty()) {
    switch (unit[0]) {
      case 'K':
      case 'k':
        scale = KiB;
        break;
      case 'M':
      case 'm':
        scale = MiB;
        break;
      case 'G':
      case 'g':
        scale = GiB;
        break;
      default:
        return std::nullopt;
    }
    unit.remove_prefix(1);
    if (unit != "" && unit != "iB" && unit != "B") return std::nullopt;
  }
  if (value == 0 || value > max_file_bytes / scale) return std::nullopt;
  return value * scale;
}

/// "1 GiB", "100 MiB", "100 KiB", or "1234 B".
inline std::string format_size(std::size_t bytes) {
  if (bytes % GiB == 0) return std::to_string(bytes / GiB) + " GiB";
  if (bytes % MiB == 0) return std::to_string(bytes / MiB) + " MiB";
  if (bytes % KiB == 0) return std::to_string(bytes / KiB) + " KiB";
  return std::to_string(bytes) + " B";
}

}  // namespace perf_demo

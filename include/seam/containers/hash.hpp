#pragma once
/// \file
/// `seam::hash<K>` and `seam::equal_to<K>`: the default hash and equality of `seam::hash_map`.

#include <boost/container_hash/hash.hpp>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <type_traits>

namespace seam {

namespace detail {

__extension__ typedef unsigned __int128 hash_u128;  // __extension__: no -Wpedantic warning

// Odd 64-bit constants with well-spread bits (digits of pi and of the golden ratio).
inline constexpr std::uint64_t k_hash_mul0 = 0x9e3779b97f4a7c15ull;
inline constexpr std::uint64_t k_hash_mul1 = 0x243f6a8885a308d3ull;
inline constexpr std::uint64_t k_hash_mul2 = 0x13198a2e03707345ull;

/// Folds the 128-bit product of `a` and `b`: one multiplication that spreads every input bit
/// over the whole result (high half) and keeps the low bits varied (low half).
inline std::uint64_t hash_mix(std::uint64_t a, std::uint64_t b) noexcept {
#if defined(__x86_64__)
  // The same product as below, in two 64-bit registers: gcc 12 allocates an `__int128` in a
  // lookup's loop to a stack slot, which puts a store and a load on every lookup's path.
  std::uint64_t low;
  std::uint64_t high;
  __asm__("mulq %3" : "=a"(low), "=d"(high) : "%a"(a), "rm"(b) : "cc");
  return low ^ high;
#else
  const hash_u128 product = static_cast<hash_u128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
#endif
}

inline std::uint64_t hash_load64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline std::uint64_t hash_load32(const unsigned char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// Hashes `n` bytes. Depends only on the bytes (no per-process seed, no standard-library
/// internals), so every process that maps an arena finds the same slots.
inline std::uint64_t hash_bytes(const void* data, std::size_t n) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = k_hash_mul0 ^ (n * k_hash_mul1);
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (n <= 16) {
    // Short keys, the common case: two (possibly overlapping) loads, no loop.
    if (n >= 8) {
      a = hash_load64(p);
      b = hash_load64(p + n - 8);
    } else if (n >= 4) {
      a = hash_load32(p);
      b = hash_load32(p + n - 4);
    } else if (n > 0) {
      a = (std::uint64_t{p[0]} << 16) | (std::uint64_t{p[n >> 1]} << 8) | p[n - 1];
    }
  } else {
    std::size_t left = n;
    for (; left > 16; left -= 16, p += 16) {
      h = hash_mix(hash_load64(p) ^ k_hash_mul1, hash_load64(p + 8) ^ h);
    }
    // The last 16 bytes of the key, overlapping bytes already mixed: no tail loop.
    a = hash_load64(p + left - 16);
    b = hash_load64(p + left - 8);
  }
  return hash_mix(hash_mix(a ^ k_hash_mul1, b ^ h), k_hash_mul2 ^ n);
}

/// A string type (std::string, std::string_view, seam::string, …) of `char`.
template <class T>
concept char_string = std::is_class_v<T> && requires(const T& s) {
  typename T::traits_type;
  requires std::same_as<typename T::value_type, char>;
  { s.data() } -> std::convertible_to<const char*>;
  { s.size() } -> std::convertible_to<std::size_t>;
};

template <class T>
concept string_key = char_string<T> || std::same_as < std::decay_t<T>,
const char* > || std::same_as<std::decay_t<T>, char*>;

template <string_key T>
std::string_view as_string_view(const T& s) noexcept {
  if constexpr (char_string<T>) {
    return {s.data(), s.size()};
  } else {
    return s;
  }
}

}  // namespace detail

/// The default hash of `seam::hash_map` and `seam::hash_set`.
///
/// Deterministic: the same key gives the same value in every process and every run (nothing
/// is seeded per process), as a table in shared memory needs: the owner and its readers must
/// probe the same slots. Strong: integers are mixed so that sequential or strided keys do not
/// cluster (`std::hash<int>` is the identity). Other types use `std::hash<K>` if it exists,
/// else `boost::hash<K>`, followed by the same mixing: such a hash is deterministic only if
/// theirs is. Stateless; safe to call from any thread; may live in shared memory.
template <class K>
struct hash {
  // A pointer's value differs in every process: it cannot key a table that processes share.
  static_assert(!std::is_pointer_v<K>, "seam::hash: pointer keys mean nothing in another process");

  /// Tells the table that the result is already well mixed (it need not mix it again).
  using is_avalanching = void;

  /// The hash, or the comparison, of its arguments.
  std::size_t operator()(const K& key) const noexcept(noexcept(raw(key))) {
    return detail::hash_mix(raw(key) ^ detail::k_hash_mul1, detail::k_hash_mul0);
  }

 private:
  static std::uint64_t raw(const K& key) noexcept(std::is_arithmetic_v<K> || std::is_enum_v<K>) {
    if constexpr (std::is_integral_v<K>) {
      return static_cast<std::uint64_t>(key);
    } else if constexpr (std::is_enum_v<K>) {
      return static_cast<std::uint64_t>(static_cast<std::underlying_type_t<K>>(key));
    } else if constexpr (requires { std::hash<K>{}(key); }) {
      return std::hash<K>{}(key);
    } else {
      return boost::hash<K>{}(key);
    }
  }
};

/// The hash of string keys: all string types hash their characters alike, so a table keyed by
/// `seam::string` can be searched with a `std::string_view` or a `std::string` (transparent).
template <detail::char_string K>
struct hash<K> {
  /// Enables heterogeneous lookup: `find(std::string_view)` on string keys.
  using is_transparent = void;
  /// Tells the table the hash is already well mixed.
  using is_avalanching = void;

  /// The hash, or the comparison, of its arguments.
  template <detail::string_key S>
  std::size_t operator()(const S& s) const noexcept {
    const std::string_view v = detail::as_string_view(s);
    return detail::hash_bytes(v.data(), v.size());
  }
};

/// The default key equality of `seam::hash_map` and `seam::hash_set`: `std::equal_to<K>`,
/// and for string keys a transparent comparison of characters (any string type with any
/// other). Stateless; any thread; may live in shared memory.
template <class K>
struct equal_to : std::equal_to<K> {};

/// Equality for string keys, transparent: a `std::string_view` compares with a `seam::string`.
template <detail::char_string K>
struct equal_to<K> {
  /// Enables heterogeneous lookup: `find(std::string_view)` on string keys.
  using is_transparent = void;

  /// The hash, or the comparison, of its arguments.
  template <detail::string_key A, detail::string_key B>
  bool operator()(const A& a, const B& b) const noexcept {
    return detail::as_string_view(a) == detail::as_string_view(b);
  }
};

}  // namespace seam

#pragma once
/// \file
/// `seam::string`: `boost::container::basic_string` in the current arena, with fast appends.

#include <boost/container/string.hpp>
#include <cstddef>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "seam/containers/allocator.hpp"

namespace seam {

/// A string whose characters live in an arena (short strings live inside the object).
///
/// It is `boost::container::basic_string` with `seam::allocator` (same layout, same API, same
/// comparisons and hashing), except that appending, `push_back`, `resize`, `reserve` and copying
/// copy characters with `Traits::copy`. Boost 1.74 does those through its generic iterator
/// insert, one character at a time through `seam::ptr` iterators, which made appending short
/// pieces ~3x slower than `std::string`. Growth stays geometric (at least doubling).
///
/// Like every Seam container: the owner of the arena builds and changes it (with an
/// `arena_scope` active once it outgrows its inline buffer); readers in other processes use it
/// through `const` access only. Not thread-safe.
template <class CharT, class Traits = std::char_traits<CharT>>
class basic_string : public boost::container::basic_string<CharT, Traits, allocator<CharT>> {
  using base = boost::container::basic_string<CharT, Traits, allocator<CharT>>;

 public:
  using typename base::size_type;
  /// The string view type the string converts to and compares with.
  using view_type = std::basic_string_view<CharT, Traits>;

  using base::base;
  basic_string() noexcept = default;
  /// Copy constructor: allocates in the current arena.
  basic_string(const basic_string& other) : base() { assign_chars(other.data(), other.size()); }
  /// Move constructor.
  basic_string(basic_string&&) noexcept = default;
  /// From what Boost's own members return (`substr`, `operator+` of a character pointer …).
  basic_string(const base& other) : base() {  // NOLINT: implicit, like a copy
    assign_chars(other.data(), other.size());
  }
  /// Adopts a Boost string (same allocator, no copy).
  basic_string(base&& other) noexcept : base(std::move(other)) {}  // NOLINT: implicit, like a move
  /// From a view, and so from a `std::string`: Boost's own constructor takes a template template
  /// parameter that clang 14 does not match against `std::basic_string`'s three parameters.
  explicit basic_string(view_type chars) : base() { assign_chars(chars.data(), chars.size()); }

  /// Copy assignment (in the current arena, as a copy constructor).
  basic_string& operator=(const basic_string& other) {
    if (this != &other) assign_chars(other.data(), other.size());
    return *this;
  }
  /// Move assignment.
  basic_string& operator=(basic_string&&) noexcept = default;
  using base::operator=;

  using base::append;
  /// Appends, as `std::string::append` with the same arguments.
  basic_string& append(const CharT* s, size_type n) {
    const size_type size = this->size();
    if (n <= this->capacity() - size) {  // fits: no reallocation, `s` stays valid
      base::resize(size + n, boost::container::default_init);
      Traits::copy(this->data() + size, s, n);
    } else if (CharT* end = grow_for_append(n, s)) {
      Traits::copy(end, s, n);
    }
    return *this;
  }
  /// Appends, as `std::string::append` with the same arguments.
  basic_string& append(const CharT* s) { return append(s, Traits::length(s)); }
  // Both: Boost's members taking any `View<CharT, Traits>` would otherwise match a
  // `seam::basic_string` exactly and win over `const base&`.
  /// Appends, as `std::string::append` with the same arguments.
  basic_string& append(const basic_string& s) { return append(s.data(), s.size()); }
  /// Appends, as `std::string::append` with the same arguments.
  basic_string& append(const base& s) { return append(s.data(), s.size()); }
  /// Appends, as `std::string::append` with the same arguments.
  basic_string& append(const base& s, size_type pos, size_type n = base::npos) {
    return append(view_type(s.data(), s.size()).substr(pos, n));  // substr throws out_of_range
  }
  /// Appends, as `std::string::append` with the same arguments.
  basic_string& append(view_type s) { return append(s.data(), s.size()); }
  /// Appends, as `std::string::append` with the same arguments.
  basic_string& append(size_type n, CharT c) {
    const size_type size = this->size();
    if (n <= this->capacity() - size) {
      base::resize(size + n, boost::container::default_init);
      Traits::assign(this->data() + size, n, c);
    } else {
      Traits::assign(grow_for_append(n, nullptr), n, c);
    }
    return *this;
  }
  /// Appends, as `std::string::append` with the same arguments.
  basic_string& append(std::initializer_list<CharT> s) { return append(s.begin(), s.size()); }

  using base::operator+=;
  /// Appends, as `std::string::operator+=`.
  basic_string& operator+=(const basic_string& s) { return append(s.data(), s.size()); }
  /// Appends, as `std::string::operator+=`.
  basic_string& operator+=(const base& s) { return append(s.data(), s.size()); }
  /// Appends, as `std::string::operator+=`.
  basic_string& operator+=(view_type s) { return append(s.data(), s.size()); }
  /// Appends, as `std::string::operator+=`.
  basic_string& operator+=(const CharT* s) { return append(s); }
  /// Appends, as `std::string::operator+=`.
  basic_string& operator+=(CharT c) {
    push_back(c);
    return *this;
  }
  /// Appends, as `std::string::operator+=`.
  basic_string& operator+=(std::initializer_list<CharT> s) { return append(s); }

  /// Appends `c`.
  void push_back(CharT c) {
    if (this->size() == this->capacity()) reallocate(grown_capacity(1));
    base::push_back(c);  // fits: Boost's own fast path
  }

  /// Resizes to `n` characters, as `std::string::resize`.
  void resize(size_type n, CharT c) {
    if (n > this->size()) {
      append(n - this->size(), c);
    } else {
      base::resize(n, c);
    }
  }
  /// Resizes to `n` characters, as `std::string::resize`.
  void resize(size_type n) { resize(n, CharT()); }
  /// Non-standard, as in Boost: the new characters are left uninitialised.
  void resize(size_type n, boost::container::default_init_t) {
    if (n > this->capacity()) reallocate(grown_capacity(n - this->size()));
    base::resize(n, boost::container::default_init);
  }

  /// Reserves room for `n` characters without reallocating later.
  void reserve(size_type n) {
    if (n > this->capacity()) reallocate(n);
  }


 private:
  // The capacity to grow to for `extra` more characters: geometric, so that n appends cost O(n).
  size_type grown_capacity(size_type extra) const {
    const size_type size = this->size();
    if (extra > this->max_size() - size) throw std::length_error("seam::basic_string: too long");
    const size_type doubled =
        this->capacity() <= this->max_size() / 2 ? 2 * this->capacity() : this->max_size();
    return size + extra > doubled ? size + extra : doubled;
  }

  // Moves the characters to a block of at least `capacity` characters. Boost's `reserve` on an
  // empty string allocates without copying; the characters are then copied in one go.
  void reallocate(size_type capacity) {
    base grown(this->get_stored_allocator());
    grown.reserve(capacity);
    grown.resize(this->size(), boost::container::default_init);
    Traits::copy(grown.data(), this->data(), this->size());
    base::swap(grown);
  }

  // Makes the string `n` characters longer in a new block, when they do not fit (the new
  // characters uninitialised), and returns where they start. `source`, when it points into this
  // string, is copied to the new block before the old one goes, and nullptr is returned. Out of
  // line so that appends, whose fitting case is a few instructions, stay inlined (that measured
  // ~25% faster on short appends).
  [[gnu::noinline]] CharT* grow_for_append(size_type n, const CharT* source) {
    const size_type size = this->size();
    base grown(this->get_stored_allocator());
    grown.reserve(grown_capacity(n));
    grown.resize(size + n, boost::container::default_init);
    CharT* const to = grown.data();
    Traits::copy(to, this->data(), size);
    const CharT* const from = this->data();
    const bool inside = source != nullptr && source >= from && source < from + size;
    if (inside) Traits::copy(to + size, source, n);  // part of itself: copy it while it lives
    base::swap(grown);
    return inside ? nullptr : to + size;
  }

  void assign_chars(const CharT* s, size_type n) {
    base::clear();
    append(s, n);
  }
};

/// A string of `char` in an arena.
using string = basic_string<char>;

// Inline comparisons of two Seam strings: Boost's are out-of-line calls, and in a tree keyed by
// strings every step of a search is one (measured: Boost's `compare` took 31% of building a
// map<string, vector<int>>). Templates, so that they take Seam strings only, with no conversion;
// mixed comparisons (with `const CharT*`, views) stay Boost's.
/// Equal contents.
template <class CharT, class Traits>
bool operator==(const basic_string<CharT, Traits>& a, const basic_string<CharT, Traits>& b) noexcept {
  return std::basic_string_view<CharT, Traits>(a.data(), a.size()) ==
         std::basic_string_view<CharT, Traits>(b.data(), b.size());
}
/// Lexicographic order of contents.
template <class CharT, class Traits>
auto operator<=>(const basic_string<CharT, Traits>& a, const basic_string<CharT, Traits>& b) noexcept {
  return std::basic_string_view<CharT, Traits>(a.data(), a.size()) <=>
         std::basic_string_view<CharT, Traits>(b.data(), b.size());
}

/// Concatenation, producing a `seam::basic_string` (Boost's would return its base type).
template <class CharT, class Traits>
basic_string<CharT, Traits> operator+(basic_string<CharT, Traits> a,
                                      const basic_string<CharT, Traits>& b) {
  a.append(b);
  return a;
}
/// Concatenation (the result allocates in the current arena).
template <class CharT, class Traits>
basic_string<CharT, Traits> operator+(basic_string<CharT, Traits> a, const CharT* b) {
  a.append(b);
  return a;
}
/// Concatenation (the result allocates in the current arena).
template <class CharT, class Traits>
basic_string<CharT, Traits> operator+(basic_string<CharT, Traits> a, CharT b) {
  a.push_back(b);
  return a;
}
/// Concatenation (the result allocates in the current arena).
template <class CharT, class Traits>
basic_string<CharT, Traits> operator+(const CharT* a, const basic_string<CharT, Traits>& b) {
  basic_string<CharT, Traits> s;
  const std::size_t n = Traits::length(a);
  s.reserve(n + b.size());
  s.append(a, n);
  s.append(b);
  return s;
}

}  // namespace seam

namespace boost {
namespace container {
// Boost's comparisons and members taking a string view accept any `View<CharT, Traits>`, which
// `seam::basic_string` also is; this makes them step aside for it as for Boost's own strings.
template <class CharT, class Traits>
struct is_string<seam::basic_string<CharT, Traits>> {
  static const bool value = true;
};
}  // namespace container

// Boost.Container moves its strings without destroying the moved-from one when this holds, as
// it does for `boost::container::basic_string` (which `seam::basic_string` adds no state to).
template <class CharT, class Traits>
struct has_trivial_destructor_after_move<seam::basic_string<CharT, Traits>>
    : has_trivial_destructor_after_move<
          boost::container::basic_string<CharT, Traits, seam::allocator<CharT>>> {};
}  // namespace boost

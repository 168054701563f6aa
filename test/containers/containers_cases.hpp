#pragma once
// The structures that containers_test builds in an arena and containers_reader checks through a
// read-only view in another process. Both programs compile this header, so the expected content
// is computed, never shipped: the reader checks every element against what it computes itself.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "seam/seam.hpp"

namespace containers_cases {

/// A well-mixed 64-bit value for index `i` (splitmix64).
inline std::uint64_t mix(std::uint64_t i) {
  std::uint64_t z = i + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// A short key, stored inside a `seam::string` object (no block of its own), so a reader can
/// build one to look it up without allocating.
// (Built by appending: gcc 12 at -O3 reports a false -Werror=restrict inside
// `const char* + std::string`.)
inline std::string short_key(std::uint64_t i) { return std::string("k").append(std::to_string(i)); }

/// A text longer than any small-string buffer: it always lives in a block of its own.
inline std::string long_text(std::uint64_t i) {
  std::string s = std::string("text-").append(std::to_string(i)).append("-");
  const std::size_t length = 40 + i % 23;
  while (s.size() < length) s += static_cast<char>('a' + mix(i * 131 + s.size()) % 26);
  return s;
}

inline seam::string to_seam(const std::string& s) { return seam::string(s.data(), s.size()); }
inline bool same(const seam::string& a, std::string_view b) {
  return std::string_view(a.data(), a.size()) == b;
}
inline bool outside(const seam::string& s) {
  const char* p = s.data();
  const char* self = reinterpret_cast<const char*>(&s);
  return p < self || p >= self + sizeof s;
}

/// Text for a failure message.
template <class... Parts>
std::string describe(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

// ---- One structure per case: its root type, how the owner builds it, how a reader checks it.
// `check` returns an empty string when everything is right, else what is wrong.

constexpr std::size_t small_count = 10'000;

struct string_root {
  seam::string small;
  seam::string large;
  seam::basic_string<char32_t> wide;
};

struct tree_node {
  std::uint64_t key;
  std::uint64_t payload;
  seam::ptr<tree_node> left;
  seam::ptr<tree_node> right;
};
struct tree_root {
  seam::ptr<tree_node> top;
  std::uint64_t count;
};
constexpr std::uint64_t tree_count = 100'000;

struct part {
  seam::string label;
  std::uint32_t weight;
};
struct catalog {
  seam::string title;
  seam::map<seam::string, seam::vector<part>> sections;
};
constexpr std::uint64_t catalog_sections = 300;
constexpr std::uint64_t catalog_parts = 40;
inline std::string section_name(std::uint64_t s) { return "section-" + long_text(s); }
inline std::string part_label(std::uint64_t s, std::uint64_t p) { return long_text(s * 1000 + p); }

constexpr std::uint64_t big_map_count = 1'000'000;
constexpr std::uint64_t big_vector_count = (std::uint64_t{100} << 20) / sizeof(std::uint64_t);

// Builders run in the owner with the arena as the current one (see `make_case`); each returns
// its root.
inline auto build_vector(seam::arena& a) {
  auto* v = a.make<seam::vector<std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) v->push_back(mix(i));
  return v;
}
inline std::string check_vector(const seam::vector<std::uint64_t>& v) {
  if (v.size() != small_count) return describe("size ", v.size(), ", expected ", small_count);
  for (std::uint64_t i = 0; i < small_count; ++i) {
    if (v[i] != mix(i)) return describe("element ", i, " is ", v[i], ", expected ", mix(i));
  }
  return {};
}

inline auto build_string(seam::arena& a) {
  auto* s = a.make<string_root>();
  s->small = "tiny";
  for (std::uint64_t i = 0; i < 200; ++i) s->large += to_seam(long_text(i));
  for (char32_t c = U'a'; c < U'a' + 100; ++c) s->wide.push_back(c);
  return s;
}
inline std::string check_string(const string_root& s) {
  if (!same(s.small, "tiny")) return "small string differs";
  std::string large;
  for (std::uint64_t i = 0; i < 200; ++i) large += long_text(i);
  if (!same(s.large, large)) return describe("large string differs (size ", s.large.size(), ")");
  if (s.wide.size() != 100) return "wide string has the wrong size";
  for (std::size_t i = 0; i < 100; ++i) {
    if (s.wide[i] != U'a' + i) return describe("wide character ", i, " differs");
  }
  return {};
}

inline auto build_map(seam::arena& a) {
  auto* m = a.make<seam::map<std::uint64_t, seam::string>>();
  for (std::uint64_t i = 0; i < small_count; ++i) m->emplace(mix(i), to_seam(long_text(i)));
  return m;
}
inline std::string check_map(const seam::map<std::uint64_t, seam::string>& m) {
  if (m.size() != small_count) return describe("size ", m.size());
  for (std::uint64_t i = 0; i < small_count; ++i) {
    auto it = m.find(mix(i));
    if (it == m.end() || !same(it->second, long_text(i))) return describe("key ", i, " differs");
  }
  if (!std::is_sorted(m.begin(), m.end(),
                      [](const auto& x, const auto& y) { return x.first < y.first; })) {
    return "iteration is not in key order";
  }
  return {};
}

inline auto build_multimap(seam::arena& a) {
  auto* m = a.make<seam::multimap<std::uint32_t, std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) m->emplace(i % 1000, mix(i));
  return m;
}
inline std::string check_multimap(const seam::multimap<std::uint32_t, std::uint64_t>& m) {
  if (m.size() != small_count) return describe("size ", m.size());
  for (std::uint32_t k = 0; k < 1000; ++k) {
    auto [first, last] = m.equal_range(k);
    std::uint64_t i = k;  // values were inserted in index order: equal keys keep that order
    for (auto it = first; it != last; ++it, i += 1000) {
      if (it->second != mix(i)) return describe("key ", k, " value for index ", i, " differs");
    }
    if (i != k + small_count) return describe("key ", k, " has the wrong number of values");
  }
  return {};
}

inline auto build_set(seam::arena& a) {
  auto* s = a.make<seam::set<seam::string>>();
  for (std::uint64_t i = 0; i < small_count; ++i) s->insert(to_seam(long_text(i)));
  return s;
}
inline std::string check_set(const seam::set<seam::string>& s) {
  std::vector<std::string> expected;
  for (std::uint64_t i = 0; i < small_count; ++i) expected.push_back(long_text(i));
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  if (s.size() != expected.size())
    return describe("size ", s.size(), ", expected ", expected.size());
  std::size_t i = 0;
  for (const auto& value : s) {
    if (!same(value, expected[i])) return describe("element ", i, " differs");
    ++i;
  }
  return {};
}

inline auto build_multiset(seam::arena& a) {
  auto* s = a.make<seam::multiset<std::uint32_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) s->insert(static_cast<std::uint32_t>(i % 777));
  return s;
}
inline std::string check_multiset(const seam::multiset<std::uint32_t>& s) {
  if (s.size() != small_count) return describe("size ", s.size());
  for (std::uint32_t k = 0; k < 777; ++k) {
    const std::size_t expected = small_count / 777 + (k < small_count % 777 ? 1 : 0);
    if (s.count(k) != expected) return describe("count of ", k, " is ", s.count(k));
  }
  return {};
}

inline auto build_flat_map(seam::arena& a) {
  auto* m = a.make<seam::flat_map<std::uint64_t, std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) m->emplace(mix(i), i);
  return m;
}
inline std::string check_flat_map(const seam::flat_map<std::uint64_t, std::uint64_t>& m) {
  if (m.size() != small_count) return describe("size ", m.size());
  for (std::uint64_t i = 0; i < small_count; ++i) {
    auto it = m.find(mix(i));
    if (it == m.end() || it->second != i) return describe("key for index ", i, " differs");
  }
  return {};
}

inline auto build_flat_multimap(seam::arena& a) {
  auto* m = a.make<seam::flat_multimap<std::uint32_t, seam::string>>();
  for (std::uint64_t i = 0; i < small_count; ++i) m->emplace(i % 100, to_seam(short_key(i)));
  return m;
}
inline std::string check_flat_multimap(const seam::flat_multimap<std::uint32_t, seam::string>& m) {
  if (m.size() != small_count) return describe("size ", m.size());
  for (std::uint32_t k = 0; k < 100; ++k) {
    auto [first, last] = m.equal_range(k);
    std::uint64_t i = k;
    for (auto it = first; it != last; ++it, i += 100) {
      if (!same(it->second, short_key(i))) return describe("key ", k, " index ", i, " differs");
    }
    if (i != k + small_count) return describe("key ", k, " has the wrong number of values");
  }
  return {};
}

inline auto build_flat_set(seam::arena& a) {
  auto* s = a.make<seam::flat_set<seam::string>>();
  for (std::uint64_t i = 0; i < small_count; ++i) s->insert(to_seam(short_key(i)));
  return s;
}
inline std::string check_flat_set(const seam::flat_set<seam::string>& s) {
  if (s.size() != small_count) return describe("size ", s.size());
  for (std::uint64_t i = 0; i < small_count; ++i) {
    // A short key fits the string object itself: building it here allocates nothing.
    if (s.count(to_seam(short_key(i))) != 1) return describe("key ", i, " missing");
  }
  return {};
}

inline auto build_flat_multiset(seam::arena& a) {
  auto* s = a.make<seam::flat_multiset<std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) s->insert(mix(i % 500));
  return s;
}
inline std::string check_flat_multiset(const seam::flat_multiset<std::uint64_t>& s) {
  if (s.size() != small_count) return describe("size ", s.size());
  for (std::uint64_t k = 0; k < 500; ++k) {
    if (s.count(mix(k)) != small_count / 500) return describe("count of index ", k, " differs");
  }
  return {};
}

inline auto build_deque(seam::arena& a) {
  auto* d = a.make<seam::deque<std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) d->push_back(mix(i));
  for (std::uint64_t i = 1; i <= small_count; ++i) d->push_front(i);  // front holds 1..n reversed
  return d;
}
inline std::string check_deque(const seam::deque<std::uint64_t>& d) {
  if (d.size() != 2 * small_count) return describe("size ", d.size());
  for (std::uint64_t i = 0; i < small_count; ++i) {
    if (d[i] != small_count - i) return describe("front element ", i, " differs");
    if (d[small_count + i] != mix(i)) return describe("back element ", i, " differs");
  }
  return {};
}

inline auto build_list(seam::arena& a) {
  auto* l = a.make<seam::list<seam::string>>();
  for (std::uint64_t i = 0; i < small_count; ++i) l->push_back(to_seam(long_text(i)));
  return l;
}
inline std::string check_list(const seam::list<seam::string>& l) {
  if (l.size() != small_count) return describe("size ", l.size());
  std::uint64_t i = 0;
  for (const auto& s : l) {
    if (!same(s, long_text(i))) return describe("element ", i, " differs");
    ++i;
  }
  // Walk back too: the back links are `seam::ptr`s as well.
  for (auto it = l.rbegin(); it != l.rend(); ++it) {
    if (!same(*it, long_text(--i))) return describe("element ", i, " differs walking back");
  }
  return {};
}

inline auto build_unordered_map(seam::arena& a) {
  auto* m = a.make<seam::unordered_map<seam::string, std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) m->emplace(to_seam(short_key(i)), mix(i));
  return m;
}
inline std::string check_unordered_map(const seam::unordered_map<seam::string, std::uint64_t>& m) {
  if (m.size() != small_count) return describe("size ", m.size());
  for (std::uint64_t i = 0; i < small_count; ++i) {
    // seam::hash of a string is the same in every process: lookups work from the reader, by
    // string view (transparent by default: the reader builds no seam::string).
    auto it = m.find(std::string_view(short_key(i)));
    if (it == m.end() || it->second != mix(i)) return describe("key ", i, " differs");
  }
  if (m.find("absent") != m.end()) return "found a key never inserted";
  return {};
}

inline auto build_unordered_multimap(seam::arena& a) {
  auto* m = a.make<seam::unordered_multimap<std::uint64_t, std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) m->emplace(i % 250, mix(i));
  return m;
}
inline std::string check_unordered_multimap(
    const seam::unordered_multimap<std::uint64_t, std::uint64_t>& m) {
  if (m.size() != small_count) return describe("size ", m.size());
  for (std::uint64_t k = 0; k < 250; ++k) {
    std::vector<std::uint64_t> got, expected;
    auto [first, last] = m.equal_range(k);
    for (auto it = first; it != last; ++it) got.push_back(it->second);
    for (std::uint64_t i = k; i < small_count; i += 250) expected.push_back(mix(i));
    std::sort(got.begin(), got.end());
    std::sort(expected.begin(), expected.end());
    if (got != expected) return describe("values of key ", k, " differ");
  }
  return {};
}

inline auto build_unordered_set(seam::arena& a) {
  auto* s = a.make<seam::unordered_set<std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) s->insert(mix(i));
  return s;
}
inline std::string check_unordered_set(const seam::unordered_set<std::uint64_t>& s) {
  if (s.size() != small_count) return describe("size ", s.size());
  for (std::uint64_t i = 0; i < small_count; ++i) {
    if (s.count(mix(i)) != 1) return describe("element ", i, " missing");
  }
  return {};
}

inline auto build_unordered_multiset(seam::arena& a) {
  auto* s = a.make<seam::unordered_multiset<std::uint64_t>>();
  for (std::uint64_t i = 0; i < small_count; ++i) s->insert(i % 300);
  return s;
}
inline std::string check_unordered_multiset(const seam::unordered_multiset<std::uint64_t>& s) {
  if (s.size() != small_count) return describe("size ", s.size());
  for (std::uint64_t k = 0; k < 300; ++k) {
    const std::size_t expected = small_count / 300 + (k < small_count % 300 ? 1 : 0);
    if (s.count(k) != expected) return describe("count of ", k, " is ", s.count(k));
  }
  return {};
}

// A balanced binary search tree over keys [first, last), made node by node.
inline tree_node* build_subtree(seam::arena& a, std::uint64_t first, std::uint64_t last) {
  if (first == last) return nullptr;
  const std::uint64_t middle = first + (last - first) / 2;
  auto* node = a.make<tree_node>(tree_node{middle, mix(middle), nullptr, nullptr});
  node->left = build_subtree(a, first, middle);
  node->right = build_subtree(a, middle + 1, last);
  return node;
}
inline auto build_tree(seam::arena& a) {
  auto* root = a.make<tree_root>();
  root->top = build_subtree(a, 0, tree_count);
  root->count = tree_count;
  return root;
}
// `inside` says whether a node lies in the arena: a reader checks every link before following it.
template <class Inside>
std::string check_tree(const tree_root& root, Inside inside) {
  if (root.count != tree_count) return describe("count ", root.count);
  std::vector<const tree_node*> stack;
  const tree_node* node = root.top.get();
  std::uint64_t expected_key = 0;
  while (node != nullptr || !stack.empty()) {
    for (; node != nullptr; node = node->left.get()) {
      if (!inside(node)) return describe("a link leaves the arena before key ", expected_key);
      stack.push_back(node);
    }
    node = stack.back();
    stack.pop_back();
    if (node->key != expected_key || node->payload != mix(node->key)) {
      return describe("in-order node ", expected_key, " has key ", node->key);
    }
    ++expected_key;
    node = node->right.get();
  }
  if (expected_key != tree_count) return describe("walked ", expected_key, " nodes");
  return {};
}

// The README's reader example: an index by word, searched by a process that has no arena (it
// could not build a `seam::string`) with every kind of string, through the default order.
struct string_index {
  seam::map<seam::string, seam::vector<int>> postings;
  seam::multimap<seam::string, int> tags;
  seam::set<seam::string> words;
};
constexpr std::uint64_t index_words = 500;
inline std::string index_word(std::uint64_t i) { return "word-" + long_text(i); }

inline auto build_string_index(seam::arena& a) {
  auto* index = a.make<string_index>();
  for (std::uint64_t i = 0; i < index_words; ++i) {
    const std::string word = index_word(i);
    index->postings[to_seam(word)].assign({int(i), int(i + 1)});
    index->tags.emplace(to_seam(word), int(i));
    index->tags.emplace(to_seam(word), int(i) + 7);
    index->words.insert(to_seam(word));
  }
  return index;
}
inline std::string check_string_index(const string_index& index) {
  for (std::uint64_t i = 0; i < index_words; ++i) {
    const std::string word = index_word(i);
    const std::string_view view = word;
    const char* c_string = word.c_str();
    auto by_string = index.postings.find(word);
    auto by_view = index.postings.find(view);
    auto by_pointer = index.postings.find(c_string);
    if (by_string == index.postings.end() || by_view != by_string || by_pointer != by_string) {
      return describe("postings: word ", i, " not found by every string type");
    }
    if (by_string->second.size() != 2 || by_string->second[0] != int(i)) {
      return describe("postings: word ", i, " has the wrong values");
    }
    if (index.postings.at(view).size() != 2 || !index.postings.contains(c_string) ||
        index.postings.count(word) != 1) {
      return describe("postings: at/contains/count of word ", i);
    }
    if (index.postings.lower_bound(view) != by_string ||
        index.postings.upper_bound(view) != std::next(by_string)) {
      return describe("postings: bounds of word ", i);
    }
    const auto [first, last] = index.tags.equal_range(view);
    if (std::distance(first, last) != 2 || first->second != int(i) ||
        std::next(first)->second != int(i) + 7 || index.tags.count(c_string) != 2) {
      return describe("tags: the range of word ", i);
    }
    if (!index.words.contains(word) || index.words.find(view) == index.words.end()) {
      return describe("words: word ", i);
    }
  }
  const std::string absent = index_word(index_words) + "-absent";
  if (index.postings.contains(absent) || index.tags.count(std::string_view(absent)) != 0 ||
      index.words.contains(absent.c_str())) {
    return "found a word never inserted";
  }
  return {};
}

inline auto build_nested(seam::arena& a) {
  auto* c = a.make<catalog>();
  seam::arena_scope scope{a};
  c->title = to_seam(long_text(424242));
  for (std::uint64_t s = 0; s < catalog_sections; ++s) {
    auto& parts = c->sections[to_seam(section_name(s))];
    for (std::uint64_t p = 0; p < catalog_parts; ++p) {
      parts.push_back(part{to_seam(part_label(s, p)), static_cast<std::uint32_t>(s * p)});
    }
  }
  return c;
}
inline std::string check_nested(const catalog& c) {
  if (!same(c.title, long_text(424242)) || !outside(c.title)) return "title differs";
  if (c.sections.size() != catalog_sections) return describe("sections ", c.sections.size());
  // Walk the map in key order beside the expected names in the same order (a lookup would
  // need a long seam::string key, and a reader cannot allocate one).
  std::vector<std::pair<std::string, std::uint64_t>> expected;
  for (std::uint64_t s = 0; s < catalog_sections; ++s) expected.emplace_back(section_name(s), s);
  std::sort(expected.begin(), expected.end());
  auto it = c.sections.begin();
  for (const auto& [name, s] : expected) {
    if (!same(it->first, name) || !outside(it->first)) return describe("section ", s, " differs");
    if (it->second.size() != catalog_parts) return describe("section ", s, " has wrong size");
    for (std::uint64_t p = 0; p < catalog_parts; ++p) {
      const part& x = it->second[p];
      if (!same(x.label, part_label(s, p)) || !outside(x.label) || x.weight != s * p) {
        return describe("section ", s, " part ", p, " differs");
      }
    }
    ++it;
  }
  return {};
}

inline auto build_big_map(seam::arena& a) {
  auto* m = a.make<seam::map<std::uint64_t, std::uint64_t>>();
  seam::arena_scope scope{a};
  for (std::uint64_t i = 0; i < big_map_count; ++i) m->emplace_hint(m->end(), 2 * i, mix(i));
  return m;
}
inline std::string check_big_map(const seam::map<std::uint64_t, std::uint64_t>& m) {
  if (m.size() != big_map_count) return describe("size ", m.size());
  std::uint64_t i = 0;
  for (const auto& [key, value] : m) {
    if (key != 2 * i || value != mix(i)) return describe("entry ", i, " differs");
    ++i;
  }
  for (std::uint64_t k = 0; k < 2 * big_map_count; k += 997) {
    const bool found = m.find(k) != m.end();
    if (found != (k % 2 == 0)) return describe("find(", k, ") is wrong");
  }
  return {};
}

inline auto build_big_vector(seam::arena& a) {
  auto* v = a.make<seam::vector<std::uint64_t>>();
  seam::arena_scope scope{a};
  v->reserve(big_vector_count);
  for (std::uint64_t i = 0; i < big_vector_count; ++i) v->push_back(i ^ 0x5a5a5a5a5a5a5a5aULL);
  return v;
}
inline std::string check_big_vector(const seam::vector<std::uint64_t>& v) {
  if (v.size() != big_vector_count) return describe("size ", v.size());
  for (std::uint64_t i = 0; i < big_vector_count; ++i) {
    if (v[i] != (i ^ 0x5a5a5a5a5a5a5a5aULL)) return describe("element ", i, " differs");
  }
  return {};
}

// ---- The table both programs share.

/// One structure: `build` makes it in the arena (as its root); `check` reads it through a view.
struct case_def {
  const char* name;
  void (*build)(seam::arena&);
  std::string (*check)(const seam::arena_view&);
};

template <auto Build, auto Check>
constexpr case_def make_case(const char* name) {
  using root = std::remove_pointer_t<decltype(Build(std::declval<seam::arena&>()))>;
  return {name,
          [](seam::arena& a) {
            seam::arena_scope scope{a};
            a.set_root(a.handle_of(Build(a)));
          },
          [](const seam::arena_view& view) { return Check(*view.root<root>()); }};
}

inline std::string check_tree_in(const seam::arena_view& view) {
  return check_tree(*view.root<tree_root>(), [&](const tree_node* node) {
    return view.contains(node, sizeof *node) &&
           reinterpret_cast<std::uintptr_t>(node) % alignof(tree_node) == 0;
  });
}

inline constexpr case_def cases[] = {
    make_case<build_vector, check_vector>("vector"),
    make_case<build_string, check_string>("string"),
    make_case<build_map, check_map>("map"),
    make_case<build_multimap, check_multimap>("multimap"),
    make_case<build_set, check_set>("set"),
    make_case<build_multiset, check_multiset>("multiset"),
    make_case<build_flat_map, check_flat_map>("flat_map"),
    make_case<build_flat_multimap, check_flat_multimap>("flat_multimap"),
    make_case<build_flat_set, check_flat_set>("flat_set"),
    make_case<build_flat_multiset, check_flat_multiset>("flat_multiset"),
    make_case<build_deque, check_deque>("deque"),
    make_case<build_list, check_list>("list"),
    make_case<build_unordered_map, check_unordered_map>("unordered_map"),
    make_case<build_unordered_multimap, check_unordered_multimap>("unordered_multimap"),
    make_case<build_unordered_set, check_unordered_set>("unordered_set"),
    make_case<build_unordered_multiset, check_unordered_multiset>("unordered_multiset"),
    {"tree", [](seam::arena& a) { a.set_root(a.handle_of(build_tree(a))); }, check_tree_in},
    make_case<build_nested, check_nested>("nested"),
    make_case<build_string_index, check_string_index>("string_index"),
    make_case<build_big_map, check_big_map>("big_map"),
    make_case<build_big_vector, check_big_vector>("big_vector"),
};

/// The case named `name`, or nullptr.
inline const case_def* find_case(std::string_view name) {
  for (const case_def& c : cases) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

}  // namespace containers_cases

#pragma once
/// \file
/// `seam::detail::tree`: the red-black tree behind `seam::map`, `multimap`, `set` and
/// `multiset`.
///
/// The header (root, leftmost, rightmost) and the size live in the container object; the nodes
/// come from the allocator (`seam::allocator`: the current arena). Every link is a
/// self-relative offset (`tree_node.hpp`), so a container placed in an arena reads the same from
/// any process and address, and one on a stack can own nodes in an arena. The rebalancing and
/// search algorithms are Boost.Intrusive's `rbtree_algorithms`, run on raw node pointers. Const
/// member functions only read, so they work on a read-only mapping.

#include <algorithm>
#include <boost/container/container_fwd.hpp>
#include <compare>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "seam/containers/detail/keys.hpp"
#include "seam/containers/detail/node_maker.hpp"
#include "seam/containers/detail/tree_node.hpp"
#include "seam/containers/detail/tree_search.hpp"

namespace seam::detail {

/// `a <=> b` if the type has it, else derived from `<` (the standard's synth-three-way).
struct synth_three_way {
  template <class T>
  auto operator()(const T& a, const T& b) const {
    if constexpr (std::three_way_comparable<T>) {
      return a <=> b;
    } else {
      if (a < b) return std::weak_ordering::less;
      if (b < a) return std::weak_ordering::greater;
      return std::weak_ordering::equivalent;
    }
  }
};

/// The tree shared by `seam::map`, `multimap`, `set` and `multiset`; see those for the
/// contract. `Policy` says what an element is and where its key is; `Unique` whether equal keys
/// are rejected (map, set) or kept in insertion order (multimap, multiset).
template <class Policy, class Compare, class Alloc, bool Unique>
class tree {
  using node = tree_node<typename Policy::value_type>;
  static_assert(std::allocator_traits<Alloc>::is_always_equal::value,
                "seam::detail::tree keeps no allocator object: it needs a stateless allocator");

 public:
  using key_type = typename Policy::key_type;
  using value_type = typename Policy::value_type;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using key_compare = Compare;
  using allocator_type = Alloc;
  using reference = value_type&;
  using const_reference = const value_type&;
  using pointer = typename std::allocator_traits<Alloc>::pointer;
  using const_pointer = typename std::allocator_traits<Alloc>::const_pointer;
  using iterator = tree_iterator<value_type, Policy::const_elements>;
  using const_iterator = tree_iterator<value_type, true>;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;
  /// What `insert` and `emplace` return: with a flag "inserted" in unique trees.
  using insert_result = std::conditional_t<Unique, std::pair<iterator, bool>, iterator>;

  // --- Construction, assignment, destruction. ---
  tree() noexcept(std::is_nothrow_default_constructible_v<Compare>) { reset_header(); }
  explicit tree(const Compare& comp) : m_comp(comp) { reset_header(); }
  explicit tree(const allocator_type&) : tree() {}
  tree(const Compare& comp, const allocator_type&) : tree(comp) {}
  // The delegating constructors below make the object complete before the first insertion, so
  // that the destructor frees what was inserted if a later insertion throws.
  template <std::input_iterator It>
  tree(It first, It last, const Compare& comp = Compare(), const allocator_type& = {})
      : tree(comp) {
    insert(first, last);
  }
  template <std::input_iterator It>
  tree(It first, It last, const allocator_type&) : tree(first, last, Compare()) {}
  tree(std::initializer_list<value_type> values, const Compare& comp = Compare(),
       const allocator_type& = {})
      : tree(values.begin(), values.end(), comp) {}
  tree(std::initializer_list<value_type> values, const allocator_type&)
      : tree(values.begin(), values.end(), Compare()) {}
  /// Boost.Container's "already sorted" constructors (`ordered_unique_range` for map and set,
  /// `ordered_range` for all four). The order is not trusted: each element goes in with the end
  /// as a hint, which costs one or two comparisons when the input is sorted.
  template <std::input_iterator It>
  tree(boost::container::ordered_range_t, It first, It last, const Compare& comp = Compare(),
       const allocator_type& = {})
      : tree(first, last, comp) {}

  /// Copies every element into nodes of the current arena, with the same shape and colours.
  tree(const tree& other) : m_comp(other.m_comp) {
    reset_header();
    // On a throw, `clone` frees the nodes it made and leaves the header as it was.
    tree_algorithms::clone(
        &other.m_header, &m_header,
        [](const tree_links* n) -> tree_links* {
          return make_node(std::as_const(value_of<value_type>(n)));
        },
        [](tree_links* n) { destroy_node(n); });
    m_size = other.m_size;
  }
  /// Takes the nodes of `other` (no allocation); `other` is left empty.
  tree(tree&& other) noexcept(std::is_nothrow_move_constructible_v<Compare>)
      : m_comp(std::move(other.m_comp)) {
    reset_header();
    tree_algorithms::swap_tree(&m_header, &other.m_header);  // re-encodes links to the headers
    m_size = std::exchange(other.m_size, 0);
  }
  tree& operator=(const tree& other) {
    if (this != &other) {
      tree copy(other);
      swap(copy);
    }
    return *this;
  }
  tree& operator=(tree&& other) noexcept(std::is_nothrow_move_assignable_v<Compare>) {
    if (this != &other) {
      clear();
      tree_algorithms::swap_tree(&m_header, &other.m_header);
      m_size = std::exchange(other.m_size, 0);
      m_comp = std::move(other.m_comp);
    }
    return *this;
  }
  tree& operator=(std::initializer_list<value_type> values) {
    tree copy(values, m_comp);
    swap(copy);
    return *this;
  }
  /// Destroys the elements and frees the nodes (each in the arena that holds it).
  ~tree() { clear(); }

  allocator_type get_allocator() const noexcept { return allocator_type(); }
  key_compare key_comp() const { return m_comp; }

  // --- Iteration and size: const, safe on a read-only mapping. ---
  iterator begin() noexcept { return iterator(tree_node_traits::get_left(&m_header)); }
  const_iterator begin() const noexcept {
    return const_iterator(tree_node_traits::get_left(&m_header));
  }
  iterator end() noexcept { return iterator(&m_header); }
  const_iterator end() const noexcept { return const_iterator(&m_header); }
  const_iterator cbegin() const noexcept { return begin(); }
  const_iterator cend() const noexcept { return end(); }
  reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
  const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
  reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
  const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }
  const_reverse_iterator crbegin() const noexcept { return rbegin(); }
  const_reverse_iterator crend() const noexcept { return rend(); }

  bool empty() const noexcept { return m_size == 0; }
  size_type size() const noexcept { return m_size; }
  size_type max_size() const noexcept {
    return std::numeric_limits<difference_type>::max() / sizeof(node);
  }

  // --- Lookup: const, safe on a read-only mapping; any key type if Compare is transparent. ---
  iterator find(const key_type& key) { return iterator(find_node(key)); }
  const_iterator find(const key_type& key) const { return const_iterator(find_node(key)); }
  template <lookup_key<Compare> K>
  iterator find(const K& key) {
    return iterator(find_node(key));
  }
  template <lookup_key<Compare> K>
  const_iterator find(const K& key) const {
    return const_iterator(find_node(key));
  }

  bool contains(const key_type& key) const { return find_node(key) != &m_header; }
  template <lookup_key<Compare> K>
  bool contains(const K& key) const {
    return find_node(key) != &m_header;
  }

  size_type count(const key_type& key) const {
    if constexpr (Unique) {
      return contains(key) ? 1 : 0;
    } else {
      return count_range(equal_range_nodes(key));
    }
  }
  template <lookup_key<Compare> K>
  size_type count(const K& key) const {
    return count_range(equal_range_nodes(key));  // `key` may match several keys
  }

  iterator lower_bound(const key_type& key) { return iterator(lower_bound_node(key)); }
  const_iterator lower_bound(const key_type& key) const {
    return const_iterator(lower_bound_node(key));
  }
  template <lookup_key<Compare> K>
  iterator lower_bound(const K& key) {
    return iterator(lower_bound_node(key));
  }
  template <lookup_key<Compare> K>
  const_iterator lower_bound(const K& key) const {
    return const_iterator(lower_bound_node(key));
  }

  iterator upper_bound(const key_type& key) { return iterator(upper_bound_node(key)); }
  const_iterator upper_bound(const key_type& key) const {
    return const_iterator(upper_bound_node(key));
  }
  template <lookup_key<Compare> K>
  iterator upper_bound(const K& key) {
    return iterator(upper_bound_node(key));
  }
  template <lookup_key<Compare> K>
  const_iterator upper_bound(const K& key) const {
    return const_iterator(upper_bound_node(key));
  }

  std::pair<iterator, iterator> equal_range(const key_type& key) {
    return as_range<iterator>(key_range_nodes(key));
  }
  std::pair<const_iterator, const_iterator> equal_range(const key_type& key) const {
    return as_range<const_iterator>(key_range_nodes(key));
  }
  template <lookup_key<Compare> K>
  std::pair<iterator, iterator> equal_range(const K& key) {
    return as_range<iterator>(equal_range_nodes(key));
  }
  template <lookup_key<Compare> K>
  std::pair<const_iterator, const_iterator> equal_range(const K& key) const {
    return as_range<const_iterator>(equal_range_nodes(key));
  }

  // --- Insertion (owner only, with the arena's scope active). A throw leaves the tree as it
  // was and frees the node it was building. Iterators and references stay valid. ---
  insert_result insert(const value_type& value) { return emplace(value); }
  insert_result insert(value_type&& value) { return emplace(std::move(value)); }
  iterator insert(const_iterator hint, const value_type& value) {
    return emplace_hint(hint, value);
  }
  iterator insert(const_iterator hint, value_type&& value) {
    return emplace_hint(hint, std::move(value));
  }
  template <std::input_iterator It>
  void insert(It first, It last) {
    for (; first != last; ++first) emplace_hint(cend(), *first);
  }
  void insert(std::initializer_list<value_type> values) { insert(values.begin(), values.end()); }

  /// Builds an element from `args`. In a unique tree whose key is visible in the arguments
  /// (the key itself, a (key, mapped) pair or a pair object), the key is looked up first and no
  /// node is built if it is present; otherwise the node is built, then dropped if its key is.
  template <class... Args>
  insert_result emplace(Args&&... args) {
    if constexpr (!Unique) {
      node_holder n{make_node(std::forward<Args>(args)...)};
      link_equal(n.get());  // if the comparison throws, `n` is freed and the tree unchanged
      return iterator(n.release());
    } else if constexpr (Policy::template key_in_args<Args...>) {
      return emplace_key(Policy::key_of_args(args...), std::forward<Args>(args)...);
    } else {
      node_holder n{make_node(std::forward<Args>(args)...)};
      tree_algorithms::insert_commit_data data;
      const auto [found, fresh] = unique_place(key_of(n.get()), data);
      if (!fresh) return {iterator(found), false};
      return {iterator(commit(n.release(), data)), true};
    }
  }
  /// As `emplace`, placing the element as close as possible before `hint` (constant time if
  /// it belongs right there).
  template <class... Args>
  iterator emplace_hint(const_iterator hint, Args&&... args) {
    if constexpr (!Unique) {
      node_holder n{make_node(std::forward<Args>(args)...)};
      tree_algorithms::insert_equal(&m_header, hint.node(), n.get(), node_less{m_comp});
      ++m_size;
      return iterator(n.release());
    } else if constexpr (Policy::template key_in_args<Args...>) {
      return emplace_hint_key(hint, Policy::key_of_args(args...), std::forward<Args>(args)...);
    } else {
      node_holder n{make_node(std::forward<Args>(args)...)};
      tree_algorithms::insert_commit_data data;
      const auto [found, fresh] = tree_algorithms::insert_unique_check(
          &m_header, hint.node(), key_of(n.get()), key_less<key_type>{m_comp}, data);
      if (!fresh) return iterator(found);
      return iterator(commit(n.release(), data));
    }
  }

  // --- Erasure (owner only; needs no scope: nodes go back to the arena that holds them). ---
  iterator erase(iterator pos) noexcept
      requires(!Policy::const_elements)  // for sets, `iterator` is `const_iterator`
  {
    return erase(const_iterator(pos));
  }
  iterator erase(const_iterator pos) noexcept {
    tree_links* n = pos.node();
    tree_links* next = tree_algorithms::next_node(n);
    tree_algorithms::erase(&m_header, n);
    --m_size;
    destroy_node(n);
    return iterator(next);
  }
  iterator erase(const_iterator first, const_iterator last) noexcept {
    if (first == cbegin() && last == cend()) {
      clear();
      return end();
    }
    while (first != last) first = erase(first);
    return iterator(last.node());
  }
  size_type erase(const key_type& key) {
    if constexpr (Unique) {
      tree_links* n = find_node(key);
      if (n == &m_header) return 0;
      erase(const_iterator(n));
      return 1;
    } else {
      return erase_range(equal_range_nodes(key));
    }
  }
  template <erase_key<iterator, const_iterator, Compare> K>
  size_type erase(K&& key) {
    return erase_range(equal_range_nodes(key));
  }
  /// Destroys every element and frees every node.
  void clear() noexcept {
    tree_algorithms::clear_and_dispose(&m_header, [](tree_links* n) { destroy_node(n); });
    m_size = 0;
  }
  /// Erases every element for which `pred` is true; returns how many it erased.
  template <class Pred>
  friend size_type erase_if(tree& t, Pred pred) {
    const size_type before = t.m_size;
    for (auto it = t.cbegin(); it != t.cend();) it = pred(*it) ? t.erase(it) : std::next(it);
    return before - t.m_size;
  }

  /// Exchanges the contents (no allocation; links to the headers are re-encoded).
  void swap(tree& other) noexcept(std::is_nothrow_swappable_v<Compare>) {
    tree_algorithms::swap_tree(&m_header, &other.m_header);
    std::swap(m_size, other.m_size);
    using std::swap;
    swap(m_comp, other.m_comp);
  }
  friend void swap(tree& a, tree& b) noexcept(noexcept(a.swap(b))) { a.swap(b); }

  // --- Comparison of whole containers, element by element (const: read only). ---
  friend bool operator==(const tree& a, const tree& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }
  friend auto operator<=>(const tree& a, const tree& b) {
    return std::lexicographical_compare_three_way(a.begin(), a.end(), b.begin(), b.end(),
                                                  synth_three_way{});
  }

  template <class P, class C, class A, bool U>
  friend const char* tree_check(const tree<P, C, A, U>& t);

 protected:
  /// Inserts the element built from `args` unless `key` is present (unique trees).
  /// `key` may refer into `args`: it is not used after the element is built from them.
  template <class K, class... Args>
  std::pair<iterator, bool> emplace_key(const K& key, Args&&... args) {
    tree_algorithms::insert_commit_data data;
    const auto [found, fresh] = unique_place(key, data);
    if (!fresh) return {iterator(found), false};
    return {iterator(commit(make_node(std::forward<Args>(args)...), data)), true};
  }
  template <class K, class... Args>
  iterator emplace_hint_key(const_iterator hint, const K& key, Args&&... args) {
    tree_algorithms::insert_commit_data data;
    const auto [found, fresh] = tree_algorithms::insert_unique_check(&m_header, hint.node(), key,
                                                                     key_less<K>{m_comp}, data);
    if (!fresh) return iterator(found);
    return iterator(commit(make_node(std::forward<Args>(args)...), data));
  }

  const Compare& comp() const noexcept { return m_comp; }

 private:
  static const key_type& key_of(const tree_links* n) noexcept {
    return Policy::key(value_of<value_type>(n));
  }

  // The comparisons Boost.Intrusive's algorithms call: a key against a node either way, or a
  // node against a node (insertion into multi trees).
  template <class K>
  struct key_less {
    const Compare& comp;
    bool operator()(const K& key, const tree_links* n) const { return comp(key, key_of(n)); }
    bool operator()(const tree_links* n, const K& key) const { return comp(key_of(n), key); }
  };
  struct node_less {
    const Compare& comp;
    bool operator()(const tree_links* a, const tree_links* b) const {
      return comp(key_of(a), key_of(b));
    }
  };

  // Owns a node that is not yet in the tree: frees it (and its element) unless released.
  class node_holder {
   public:
    explicit node_holder(node* n) noexcept : m_node(n) {}
    node_holder(const node_holder&) = delete;
    node_holder& operator=(const node_holder&) = delete;
    ~node_holder() {
      if (m_node != nullptr) destroy_node(m_node);
    }
    node* get() const noexcept { return m_node; }
    node* release() noexcept { return std::exchange(m_node, nullptr); }

   private:
    node* m_node;
  };

  void reset_header() noexcept { tree_algorithms::init_header(&m_header); }

  tree_links* commit(tree_links* n, const tree_algorithms::insert_commit_data& data) noexcept {
    tree_algorithms::insert_unique_commit(&m_header, n, data);
    ++m_size;
    return n;
  }

  using nodes = node_maker<node, Alloc>;
  template <class... Args>
  static node* make_node(Args&&... args) {
    return nodes::make(std::forward<Args>(args)...);
  }
  static void free_node(node* n) noexcept { nodes::free(n); }
  static void destroy_node(tree_links* links) noexcept {
    nodes::destroy(static_cast<node*>(links));
  }

  // Searches. These descents are written here rather than taken from Boost.Intrusive so that
  // each step is branch-free (`tree_search.hpp` says why and what it measured).
  const tree_links* root() const noexcept { return tree_node_traits::get_parent(&m_header); }

  // Walks from the root to a leaf, going right where a node's key is below `key` (`OrEqual`: not
  // above); returns the node marked on the way (`search_step`; `fallback` if none) and the last
  // node visited (the header if the tree is empty).
  template <bool OrEqual, search_mark Mark, class K>
  std::pair<const tree_links*, const tree_links*> descend(const K& key,
                                                          const tree_links* fallback) const {
    const tree_links* mark = fallback;
    const tree_links* x = root();
    if (x == nullptr) return {mark, &m_header};
    for (;;) {
      const std::int64_t link = search_step<OrEqual, Mark>(x, key_of(x), key, m_comp, mark);
      if (link == 0) return {mark, x};
      x = tree_node_traits::decode(x, link);
    }
  }
  template <class K>
  tree_links* lower_bound_node(const K& key) const {
    return const_cast<tree_links*>(descend<false, search_mark::left>(key, &m_header).first);
  }
  template <class K>
  tree_links* upper_bound_node(const K& key) const {
    return const_cast<tree_links*>(descend<true, search_mark::left>(key, &m_header).first);
  }
  template <class K>
  tree_links* find_node(const K& key) const {
    tree_links* n = lower_bound_node(key);
    return n == &m_header || m_comp(key, key_of(n)) ? const_cast<tree_links*>(&m_header) : n;
  }
  template <class K>
  std::pair<tree_links*, tree_links*> equal_range_nodes(const K& key) const {
    return {lower_bound_node(key), upper_bound_node(key)};
  }
  // The range of one `key_type` key: at most one node in a unique tree.
  std::pair<tree_links*, tree_links*> key_range_nodes(const key_type& key) const {
    if constexpr (Unique) {
      tree_links* n = lower_bound_node(key);
      if (n == &m_header || m_comp(key, key_of(n))) return {n, n};
      return {n, tree_algorithms::next_node(n)};
    } else {
      return equal_range_nodes(key);
    }
  }
  // Where a node of `key` goes after every node of an equal key: the parent and the side.
  template <class K>
  tree_algorithms::insert_commit_data place_after_equals(const K& key,
                                                         const tree_links*& prev) const {
    // `prev`: the last node not above `key`, the only one it can equal.
    const auto [last_right, parent] = descend<true, search_mark::right>(key, nullptr);
    prev = last_right;
    tree_algorithms::insert_commit_data data;
    data.link_left = parent == &m_header || m_comp(key, key_of(parent));
    data.node = const_cast<tree_links*>(parent);
    return data;
  }
  // Where a node of `key` goes in a unique tree, as `tree_algorithms::insert_unique_check`
  // (which this replaces for speed): the place to link it, or the node that holds the key.
  template <class K>
  std::pair<tree_links*, bool> unique_place(const K& key,
                                            tree_algorithms::insert_commit_data& data) const {
    const tree_links* prev = nullptr;
    data = place_after_equals(key, prev);
    if (prev != nullptr && !m_comp(key_of(prev), key)) {
      return {const_cast<tree_links*>(prev), false};
    }
    return {nullptr, true};
  }
  // Links `n` after every node of an equal key (multi trees): insertion order among equals.
  void link_equal(tree_links* n) {
    const tree_links* prev = nullptr;
    commit(n, place_after_equals(key_of(n), prev));
  }
  template <class It>
  static std::pair<It, It> as_range(std::pair<tree_links*, tree_links*> r) noexcept {
    return {It(r.first), It(r.second)};
  }
  static size_type count_range(std::pair<tree_links*, tree_links*> r) noexcept {
    size_type n = 0;
    for (tree_links* p = r.first; p != r.second; p = tree_algorithms::next_node(p)) ++n;
    return n;
  }
  size_type erase_range(std::pair<tree_links*, tree_links*> r) noexcept {
    const size_type before = m_size;
    erase(const_iterator(r.first), const_iterator(r.second));
    return before - m_size;
  }

  tree_links m_header{};  // parent: root; left: leftmost; right: rightmost; colour: red
  size_type m_size = 0;
  [[no_unique_address]] Compare m_comp{};
};

/// Checks every invariant of the red-black tree `t` (links, colours, black heights, order,
/// size; see `check_tree_links`). Returns null if all hold, else what is wrong. For tests: it
/// walks the whole tree.
template <class Policy, class Compare, class Alloc, bool Unique>
const char* tree_check(const tree<Policy, Compare, Alloc, Unique>& t) {
  using value_type = typename Policy::value_type;
  using key_type = typename Policy::key_type;
  return check_tree_links<value_type>(
      &t.m_header, t.m_size, Unique,
      [](const value_type& v) -> const key_type& { return Policy::key(v); }, t.m_comp);
}

}  // namespace seam::detail

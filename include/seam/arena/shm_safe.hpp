#pragma once
/// \file
/// `seam::shm_safe<T>`: rejects, at compile time, types that obviously cannot live in an arena.
///
/// The trait lives in the arena layer, not with the containers, because `arena::make<T>` checks
/// it and the arena layer must not include the containers layer. It needs no container of
/// Seam's: a class template is judged by its type arguments, so `std::vector<int>` is rejected
/// for its `std::allocator<int>` (raw pointers) and `seam::vector<std::string>` for its
/// `std::string`. Every specialisation is in this one header on purpose: a specialisation seen
/// by some translation units and not by others would give one type two answers.

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <memory_resource>
#include <span>
#include <string_view>
#include <type_traits>

namespace seam {

class arena;
class arena_view;
class unique_fd;

/// True if a `T` may be placed in a `seam::arena` and read by another process, as far as a
/// trait can see.
///
/// Rejected: raw pointers, references and pointers to member functions (process-local
/// addresses); every container or string whose allocator is `std::allocator` or a
/// `std::pmr::polymorphic_allocator` (all of `std::`'s); `std::string_view`, `std::span`,
/// `std::unique_ptr`, `std::shared_ptr`, `std::weak_ptr`, `std::function`,
/// `std::reference_wrapper`; Seam's process-local objects (`arena`, `arena_view`, `unique_fd`).
/// Any other class template is as safe as its type arguments, so the check sees through
/// `std::pair`, `std::tuple`, `std::optional`, `std::variant`, `std::array`, C arrays and
/// Seam's containers: `seam::vector<std::string>` and `std::pair<int, char*>` are rejected,
/// `seam::map<seam::string, seam::vector<int>>` is accepted.
///
/// NOT detected: the members of your own structs. C++20 cannot list a class's members, so
/// `struct order { char* note; };` passes, and so does a struct holding a `std::string`.
/// Judging templates by their arguments can also err the other way: a `std::less<int*>`
/// comparator is rejected though it holds nothing. Say what you know with a specialisation,
/// visible wherever the type is used with Seam:
/// `template <> struct seam::shm_safe<my_type> : std::false_type {};` (or `true_type`).
///
/// Checked by `arena::make<T>` and by `seam::allocator<T>` (so by every Seam container), at
/// compile time only. Evaluating it never instantiates `T` (only its name is inspected), so it
/// is safe on incomplete and recursive types, which it accepts.
template <class T>
struct shm_safe;

/// `shm_safe<T>::value`.
template <class T>
inline constexpr bool shm_safe_v = shm_safe<T>::value;

namespace detail {

// Each rule says whether a type is safe and, if not, which type inside it is to blame (the
// `culprit`, shown in the compiler's error so that the user sees `std::string`, not only the
// `seam::map<…>` that holds it).
struct shm_good {
  static constexpr bool value = true;
  using culprit = void;
};
template <class T>
struct shm_bad {
  static constexpr bool value = false;
  using culprit = T;
};
// The culprit of a raw-pointer allocator: blame the container that uses it, not the allocator.
struct shm_blame_owner;

template <class T>
struct shm_rules;

// The type to blame for an unsafe part `P` of `Owner`: what the rules found inside `P`, or `P`
// itself when a user specialisation rejects it.
template <class P, class Owner, class Found = typename shm_rules<std::remove_cv_t<P>>::culprit>
using shm_part_culprit_t = std::conditional_t<
    std::is_void_v<Found>, std::remove_cv_t<P>,
    std::conditional_t<std::is_same_v<Found, shm_blame_owner>, Owner, Found>>;

// A type made of parts: safe if every part is (asked through `shm_safe`, so that users'
// specialisations of the parts count). The first bad part is the culprit.
template <class Owner, class... Parts>
struct shm_parts : shm_good {};
template <class Owner, class First, class... Rest>
struct shm_parts<Owner, First, Rest...>
    : std::conditional_t<shm_safe<std::remove_cv_t<First>>::value, shm_parts<Owner, Rest...>,
                         shm_bad<shm_part_culprit_t<First, Owner>>> {};

// Anything not matched below (arithmetic types, enums, your own structs, incomplete types) is
// taken as safe: see the limits in `shm_safe`'s comment.
template <class T>
struct shm_rules : shm_good {};

// A class template with type arguments only: as safe as its arguments.
template <template <class...> class Template, class... Args>
struct shm_rules<Template<Args...>> : shm_parts<Template<Args...>, Args...> {};
template <class T, std::size_t N>
struct shm_rules<std::array<T, N>> : shm_parts<std::array<T, N>, T> {};
template <class T, std::size_t N>
struct shm_rules<T[N]> : shm_parts<T[N], T> {};
template <class T>
struct shm_rules<T[]> : shm_parts<T[], T> {};

template <class T>
struct shm_rules<T*> : shm_bad<T*> {};
template <class T>
struct shm_rules<T&> : shm_bad<T&> {};
template <class T>
struct shm_rules<T&&> : shm_bad<T&&> {};
// A pointer to a data member is an offset, valid anywhere; one to a member function holds a
// code address, which differs between processes.
template <class M, class C>
struct shm_rules<M C::*>
    : std::conditional_t<std::is_function_v<M>, shm_bad<M C::*>, shm_good> {};

// Allocators that hand out raw pointers: the container holding one is to blame.
template <class T>
struct shm_rules<std::allocator<T>> {
  static constexpr bool value = false;
  using culprit = shm_blame_owner;
};
template <class T>
struct shm_rules<std::pmr::polymorphic_allocator<T>> : shm_rules<std::allocator<T>> {};

template <class C, class Traits>
struct shm_rules<std::basic_string_view<C, Traits>> : shm_bad<std::basic_string_view<C, Traits>> {};
template <class T, std::size_t Extent>
struct shm_rules<std::span<T, Extent>> : shm_bad<std::span<T, Extent>> {};
template <class T, class Deleter>
struct shm_rules<std::unique_ptr<T, Deleter>> : shm_bad<std::unique_ptr<T, Deleter>> {};
template <class T>
struct shm_rules<std::shared_ptr<T>> : shm_bad<std::shared_ptr<T>> {};
template <class T>
struct shm_rules<std::weak_ptr<T>> : shm_bad<std::weak_ptr<T>> {};
template <class Signature>
struct shm_rules<std::function<Signature>> : shm_bad<std::function<Signature>> {};
template <class T>
struct shm_rules<std::reference_wrapper<T>> : shm_bad<std::reference_wrapper<T>> {};
template <>
struct shm_rules<arena> : shm_bad<arena> {};
template <>
struct shm_rules<arena_view> : shm_bad<arena_view> {};
template <>
struct shm_rules<unique_fd> : shm_bad<unique_fd> {};

/// The type inside `T` to blame if `T` is rejected (`T` itself when nothing inside is).
template <class T>
using shm_culprit_t = shm_part_culprit_t<T, std::remove_cv_t<T>>;

/// Instantiated by `arena::make` and `seam::allocator` to reject `T`. `Culprit`, the type inside
/// `T` that holds process-local pointers, shows in the compiler's "in instantiation of" line.
template <class T, class Culprit = shm_culprit_t<T>>
struct require_shm_safe {
  static_assert(shm_safe_v<T>,
                "this type cannot live in a seam::arena: it holds process-local pointers; use "
                "seam::string / seam::vector / seam::ptr and the other seam:: containers instead "
                "of std:: containers, smart pointers and raw pointers (the offending type is "
                "`Culprit` in seam::detail::require_shm_safe<T, Culprit> above), or specialise "
                "seam::shm_safe");
  static constexpr bool value = true;
};

}  // namespace detail

// A cv-qualified type asks about the unqualified one, where users' specialisations are.
template <class T>
struct shm_safe : std::conditional_t<std::is_same_v<T, std::remove_cv_t<T>>,
                                     std::bool_constant<detail::shm_rules<T>::value>,
                                     shm_safe<std::remove_cv_t<T>>> {};

}  // namespace seam

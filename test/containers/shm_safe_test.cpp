// seam::shm_safe's verdicts. The trait is a compile-time check; these tests pin down its answers
// (a wrong answer fails here at run time, with the type named) and that it is usable on
// incomplete and recursive types. That it stops compilation with a readable message is tested by
// the containers.shm_safe_compile.* ctest cases.

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include "seam/seam.hpp"

namespace {

struct plain {
  int id;
  double price;
};
struct raw_inside {
  char* note;  // not detectable: the trait cannot see members of a struct
};
struct private_handle {
  int fd;
};
// Holds a seam::vector of itself: the allocator checks `tree_item` while it is incomplete.
struct tree_item {
  seam::string name;
  seam::vector<tree_item> children;
  seam::map<int, tree_item> by_id;
  seam::unordered_map<int, tree_item> by_hash;
  seam::list<tree_item> list;
};

}  // namespace

template <>
struct seam::shm_safe<private_handle> : std::false_type {};

namespace {

TEST(ShmSafeTest, RejectsProcessLocalPointers) {
  EXPECT_FALSE(seam::shm_safe_v<int*>);
  EXPECT_FALSE(seam::shm_safe_v<const char*>);
  EXPECT_FALSE(seam::shm_safe_v<int&>);
  EXPECT_FALSE(seam::shm_safe_v<void (*)()>);
  EXPECT_FALSE(seam::shm_safe_v<void (plain::*)()>);
  EXPECT_TRUE(seam::shm_safe_v<int plain::*>);  // an offset, the same everywhere
}

TEST(ShmSafeTest, RejectsStandardContainersAndSmartPointers) {
  EXPECT_FALSE(seam::shm_safe_v<std::string>);
  EXPECT_FALSE(seam::shm_safe_v<std::vector<int>>);
  EXPECT_FALSE((seam::shm_safe_v<std::map<int, int>>));
  EXPECT_FALSE(seam::shm_safe_v<std::set<int>>);
  EXPECT_FALSE((seam::shm_safe_v<std::unordered_map<int, int>>));
  EXPECT_FALSE(seam::shm_safe_v<std::list<int>>);
  EXPECT_FALSE(seam::shm_safe_v<std::deque<int>>);
  EXPECT_FALSE(seam::shm_safe_v<std::pmr::vector<int>>);
  EXPECT_FALSE(seam::shm_safe_v<std::string_view>);
  EXPECT_FALSE(seam::shm_safe_v<std::span<const int>>);
  EXPECT_FALSE(seam::shm_safe_v<std::unique_ptr<int>>);
  EXPECT_FALSE(seam::shm_safe_v<std::shared_ptr<int>>);
  EXPECT_FALSE(seam::shm_safe_v<std::weak_ptr<int>>);
  EXPECT_FALSE(seam::shm_safe_v<std::function<void()>>);
  EXPECT_FALSE(seam::shm_safe_v<std::reference_wrapper<int>>);
  EXPECT_FALSE(seam::shm_safe_v<seam::arena>);
  EXPECT_FALSE(seam::shm_safe_v<seam::unique_fd>);
}

TEST(ShmSafeTest, LooksInsideCompositesAndSeamContainers) {
  EXPECT_FALSE((seam::shm_safe_v<std::pair<int, std::string>>));
  EXPECT_FALSE((seam::shm_safe_v<std::tuple<int, double, char*>>));
  EXPECT_FALSE((seam::shm_safe_v<std::array<std::string, 2>>));
  EXPECT_FALSE(seam::shm_safe_v<std::optional<std::vector<int>>>);
  EXPECT_FALSE((seam::shm_safe_v<std::variant<int, std::string>>));
  EXPECT_FALSE(seam::shm_safe_v<std::atomic<int*>>);
  EXPECT_FALSE(seam::shm_safe_v<const char* [4]>);
  EXPECT_FALSE((seam::shm_safe_v<seam::handle<std::string>>));
  EXPECT_FALSE((seam::shm_safe_v<std::pair<int, std::pair<int, std::unique_ptr<int>>>>));
}

TEST(ShmSafeTest, AcceptsSeamTypesAndPlainData) {
  EXPECT_TRUE(seam::shm_safe_v<int>);
  EXPECT_TRUE(seam::shm_safe_v<plain>);
  EXPECT_TRUE(seam::shm_safe_v<seam::ptr<plain>>);
  EXPECT_TRUE(seam::shm_safe_v<seam::handle<plain>>);
  EXPECT_TRUE(seam::shm_safe_v<seam::string>);
  EXPECT_TRUE(seam::shm_safe_v<seam::vector<seam::string>>);
  EXPECT_TRUE((seam::shm_safe_v<seam::map<seam::string, seam::vector<plain>>>));
  EXPECT_TRUE((seam::shm_safe_v<seam::unordered_map<seam::string, seam::list<int>>>));
  EXPECT_TRUE((seam::shm_safe_v<std::pair<const seam::string, std::array<double, 3>>>));
  EXPECT_TRUE(seam::shm_safe_v<std::optional<seam::string>>);
  EXPECT_TRUE(seam::shm_safe_v<tree_item>);
  EXPECT_TRUE((seam::shm_safe_v<std::vector<int, seam::allocator<int>>>));  // fancy pointers
}

TEST(ShmSafeTest, CannotSeeInsideUserStructs) {
  // Documented limit: C++20 cannot list a struct's members.
  EXPECT_TRUE(seam::shm_safe_v<raw_inside>);
}

TEST(ShmSafeTest, UserSpecialisationIsHonouredInsideOtherTypes) {
  EXPECT_FALSE(seam::shm_safe_v<private_handle>);
  EXPECT_FALSE(seam::shm_safe_v<const private_handle>);
  EXPECT_FALSE((seam::shm_safe_v<std::pair<int, private_handle>>));
  EXPECT_FALSE((seam::shm_safe_v<std::optional<private_handle>>));
}

TEST(ShmSafeTest, CulpritIsTheInnermostUnsafeType) {
  using seam::detail::shm_culprit_t;
  EXPECT_TRUE((std::is_same_v<shm_culprit_t<std::pair<int, std::pair<double, std::string>>>,
                              std::string>));
  EXPECT_TRUE((std::is_same_v<shm_culprit_t<std::optional<std::vector<int>>>, std::vector<int>>));
  EXPECT_TRUE((std::is_same_v<shm_culprit_t<std::pair<int, private_handle>>, private_handle>));
  EXPECT_TRUE((std::is_same_v<shm_culprit_t<std::tuple<int, char*>>, char*>));
}

TEST(ShmSafeTest, RecursiveTypesWorkInAnArena) {
  seam::arena a;
  auto* item = a.make<tree_item>();
  {
    seam::arena_scope scope{a};
    item->children.emplace_back().name = "a child with a name longer than a small string";
    item->by_id[7].name = "seven";
    item->by_hash[8].children.emplace_back();
    item->list.emplace_back();
  }
  EXPECT_EQ(item->children.size(), 1u);
  EXPECT_TRUE(a.contains(item->children.data()));
  EXPECT_TRUE(a.contains(item->children[0].name.data()));
  a.destroy(item);
}

}  // namespace

// seam::string: appends (which Seam implements itself, over Boost's string) against
// std::string as the model, across growth and self-reference; that it still behaves as Boost's
// string everywhere else (comparisons, hashing, keys, concatenation); and that a reader in
// another process, mapping the arena read-only, sees what the owner appended.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "seam/seam.hpp"

namespace {

std::string_view view_of(const seam::string& s) { return {s.data(), s.size()}; }

// A deterministic piece of text for step `i`: lengths from 0 to 40, so that appends cross the
// inline buffer and the small and large size classes.
std::string piece(std::uint64_t i) {
  std::uint64_t x = i * 0x9e3779b97f4a7c15ULL + 1;
  x ^= x >> 29;
  std::string s(static_cast<std::size_t>(x % 41), ' ');
  for (char& c : s) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>('a' + (x >> 59));
  }
  return s;
}

TEST(StringTest, EveryAppendMatchesStdStringAcrossGrowth) {
  seam::arena a;
  seam::arena_scope scope{a};
  seam::string s;
  std::string model;
  std::size_t moves = 0;
  const char* last = s.data();
  for (std::uint64_t i = 0; i < 20000; ++i) {
    const std::string p = piece(i);
    switch (i % 8) {
      case 0:
        s.append(p.data(), p.size());
        break;
      case 1:
        s.append(p.c_str());
        break;
      case 2:
        s.append(std::string_view(p));
        break;
      case 3:
        s += seam::string(p.data(), p.size());
        break;
      case 4:
        s += p.c_str();
        break;
      case 5:
        s.append(p.size() % 5, 'x');
        break;
      case 6:
        for (char c : p) s.push_back(c);
        break;
      case 7:
        s.append(seam::string(p.data(), p.size()), p.empty() ? 0 : 1);
        break;
    }
    switch (i % 8) {
      case 5:
        model.append(p.size() % 5, 'x');
        break;
      case 7:
        model.append(p.empty() ? std::string_view() : std::string_view(p).substr(1));
        break;
      default:
        model += p;
    }
    ASSERT_EQ(view_of(s), model) << "after step " << i;
    ASSERT_EQ(s.c_str()[s.size()], '\0');
    ASSERT_GE(s.capacity(), s.size());
    if (s.data() != last) ++moves;
    last = s.data();
  }
  // Growth is geometric: a few dozen moves for ~200 KB, not one per append.
  EXPECT_GT(model.size(), 100000u);
  EXPECT_LT(moves, 40u);
  EXPECT_TRUE(a.contains(s.data(), s.size()));
}

TEST(StringTest, AppendingPartOfItselfWorksWhenTheBlockMoves) {
  seam::arena a;
  seam::arena_scope scope{a};
  seam::string s("0123456789");
  std::string model("0123456789");
  for (int i = 0; i < 12; ++i) {
    s.shrink_to_fit();  // full, so that the next append must move the characters
    s.append(s.data() + 3, s.size() - 3);
    model.append(model.data() + 3, model.size() - 3);
    ASSERT_EQ(view_of(s), model);
  }
  s += s;
  model += model;
  EXPECT_EQ(view_of(s), model);
  s.append(s);
  model.append(model);
  EXPECT_EQ(view_of(s), model);
}

TEST(StringTest, ResizeReserveAndCopiesKeepTheCharacters) {
  seam::arena a;
  seam::arena_scope scope{a};
  seam::string s("abc");
  s.resize(100, 'z');
  EXPECT_EQ(view_of(s), "abc" + std::string(97, 'z'));
  s.resize(2);
  EXPECT_EQ(view_of(s), "ab");
  s.reserve(5000);
  EXPECT_GE(s.capacity(), 5000u);
  EXPECT_EQ(view_of(s), "ab");
  s.resize(4000, boost::container::default_init);
  EXPECT_EQ(s.size(), 4000u);
  EXPECT_EQ(s[0], 'a');
  EXPECT_EQ(s.c_str()[4000], '\0');
  s.resize(3);
  s[2] = 'c';

  seam::string copy = s;
  EXPECT_EQ(copy, s);
  EXPECT_NE(copy.data(), s.data());
  copy += "d";
  EXPECT_EQ(view_of(s), "abc");
  copy = seam::string(300, 'q');
  seam::string moved = std::move(copy);
  const char* block = moved.data();
  seam::string target;
  target = std::move(moved);
  EXPECT_EQ(target.data(), block);  // a move keeps the block
  EXPECT_EQ(view_of(target), std::string(300, 'q'));
}

// Not a Boost string any more: the comparisons, hashing and lookups that took one still work.
TEST(StringTest, ComparesHashesAndConcatenatesLikeBoostsString) {
  seam::arena a;
  seam::arena_scope scope{a};
  const seam::string apple("apple"), pear("pear");
  EXPECT_TRUE(apple < pear);
  EXPECT_TRUE(apple == "apple");
  EXPECT_TRUE("pear" == pear);
  EXPECT_TRUE(apple != pear);
  EXPECT_TRUE(apple == std::string_view("apple"));
  EXPECT_EQ(apple.compare(pear) < 0, true);
  // Two Seam strings compare inline (Seam's operators): by characters, then by length, with
  // no stop at a '\0', short against long.
  const seam::string ab("ab"), abc("abc"), abd("abd"), nul_a(std::string_view("a\0b", 3)),
      nul_b(std::string_view("a\0c", 3)), long_ab(std::string(40, 'a') + "b");
  EXPECT_TRUE(ab < abc && abc < abd && !(abc < ab) && !(abd <= abc));
  EXPECT_TRUE(nul_a < nul_b && nul_a != nul_b && nul_a != seam::string("a"));
  EXPECT_TRUE(seam::string(std::string(40, 'a')) < long_ab && long_ab < abc);
  EXPECT_EQ(abc <=> seam::string("abc"), std::strong_ordering::equal);
  EXPECT_TRUE(abc == seam::string("abc") && !(abc != seam::string("abc")));

  const seam::string joined = apple + "-" + pear + '!';
  EXPECT_EQ(view_of(joined), "apple-pear!");
  static_assert(std::is_same_v<decltype(apple + pear), seam::string>);
  const seam::string front = "fresh " + apple;
  EXPECT_EQ(view_of(front), "fresh apple");
  const seam::string tail = joined.substr(6);  // Boost's substr returns its own type
  EXPECT_EQ(view_of(tail), "pear!");

  const seam::string long_key(60, 'k');
  EXPECT_EQ(seam::hash<seam::string>{}(long_key), seam::hash<seam::string>{}(std::string(60, 'k')));
  EXPECT_EQ(boost::hash<seam::string>{}(apple),
            (boost::hash<boost::container::basic_string<char, std::char_traits<char>,
                                                        seam::allocator<char>>>{}(apple)));

  seam::map<seam::string, int, std::less<>> ordered;
  ordered[long_key] = 1;
  ordered[apple] = 2;
  EXPECT_EQ(ordered.find(std::string_view(std::string(60, 'k')))->second, 1);
  seam::unordered_map<seam::string, int> unordered;
  unordered[long_key + apple] = 3;
  EXPECT_EQ(unordered.at(long_key + "apple"), 3);
  seam::hash_map<seam::string, int> flat;
  flat.try_emplace(long_key, 4);
  EXPECT_EQ(flat.find(std::string_view(std::string(60, 'k')))->second, 4);
  static_assert(seam::shm_safe_v<seam::string>);
}

TEST(StringTest, BuildsFromStdStringsAndViewsOnEveryCompiler) {
  seam::arena a;
  seam::arena_scope scope{a};
  const std::string text = piece(7) + piece(8) + "past the inline buffer";
  const seam::string from_string(text);
  const seam::string from_view{std::string_view(text)};
  EXPECT_EQ(view_of(from_string), text);
  EXPECT_EQ(view_of(from_view), text);
  // As a key built in place from a std::string (clang 14 rejects Boost's own constructor).
  seam::map<seam::string, int> m;
  m.emplace(text, 1);
  EXPECT_EQ(m.at(from_view), 1);
}

TEST(StringTest, FailedGrowthLeavesTheStringAsItWas) {
  seam::string s("short");  // inline: no arena needed yet
  s.append(" text");
  EXPECT_EQ(view_of(s), "short text");
  try {
    s.append(std::string(100, 'x'));  // needs a block, and there is no current arena
    FAIL() << "appending without an arena did not throw";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), seam::errc::no_current_arena);
  }
  EXPECT_EQ(view_of(s), "short text");
}

struct strings_root {
  seam::vector<seam::string> lines;
};

TEST(StringCrossProcessTest, ReaderProcessSeesAppendedStringsThroughAReadOnlyView) {
  seam::arena a({.capacity = std::size_t{1} << 30, .name = "string-reader"});
  auto* root = a.make<strings_root>();
  std::vector<std::string> model;
  {
    seam::arena_scope scope{a};
    for (std::uint64_t i = 0; i < 200; ++i) {
      seam::string line;
      std::string expected;
      for (std::uint64_t j = 0; j < i * 3; ++j) {
        line.append(piece(i * 1000 + j));
        expected += piece(i * 1000 + j);
      }
      root->lines.push_back(std::move(line));
      model.push_back(std::move(expected));
    }
  }
  const seam::handle<strings_root> h = a.handle_of(root);
  seam::unique_fd fd = a.share();
  const pid_t pid = ::fork();
  ASSERT_NE(pid, -1);
  if (pid == 0) {
    // A reader: its own read-only mapping at another address; it never allocates.
    int code = 0;
    try {
      const seam::arena_view view = seam::arena_view::open(fd.get());
      const strings_root& seen = *view.get(h);
      if (seen.lines.size() != model.size()) code = 2;
      for (std::size_t i = 0; code == 0 && i < model.size(); ++i) {
        const seam::string& line = seen.lines[i];
        if (view_of(line) != model[i] || (line.size() > 32 && !view.contains(line.data()))) {
          code = 3;
        }
      }
    } catch (...) {
      code = 4;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  {
    seam::arena_scope scope{a};
    a.destroy(root);
  }
}

}  // namespace

// A separate program that looks up named objects of an arena another process owns, for
// named_test. It has no arena of its own and maps the owner's read-only.
//   named_reader view
//       fd 3 is the arena; finds the objects `named_test` makes (see `check_all`), says "ok",
//       waits for a line on stdin (the owner then destroyed "answer"), checks that "answer"
//       is gone and the rest still there, says "ok".
//   named_reader session <app> <dataset arena id>
//       connects to the session server <app> and says "connected"; waits for a line (the
//       server then made the objects in its session arena and "dataset-answer" in the arena
//       <dataset arena id>, which it shares); same checks through `session::find` and
//       `session::peer_arena(id)->find`; same second step (the server then also destroyed
//       "dataset-answer").
// One line per step on stdout ("FAIL <why>" on failure); exit status 0 on success.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "arena/named_objects.hpp"
#include "seam/arena.hpp"
#include "seam/session.hpp"
#include "support/peer_output.hpp"

namespace {

using namespace std::chrono_literals;
using seam::test::fail;
using seam::test::say;
using namespace seam::test::named;

// Looks up every object through `find` (a callable: name, type tag -> pointer, error_code&).
template <class Finder>
std::string check_all(Finder find, bool answer_expected) {
  std::error_code ec;
  const auto* answer = find(tag<std::uint64_t>{}, "answer", ec);
  if (ec) return "answer: " + ec.message();
  if (answer_expected ? (answer == nullptr || *answer != answer_value) : answer != nullptr) {
    return answer_expected ? "answer missing or wrong" : "answer still found after destroy";
  }
  const auto* index = find(tag<index_map>{}, "index", ec);
  if (ec || index == nullptr) return "index: " + (ec ? ec.message() : "missing");
  if (const std::string why = check_index(*index); !why.empty()) return "index: " + why;
  const auto* table = find(tag<index_table>{}, "table", ec);
  if (ec || table == nullptr) return "table: " + (ec ? ec.message() : "missing");
  if (const std::string why = check_table(*table); !why.empty()) return "table: " + why;
  const auto* p = find(tag<point>{}, nul_name(), ec);
  if (ec || p == nullptr || p->x != 3 || p->y != 4) return "point with a NUL in its name";
  // Wrong types are refused, never reinterpreted: same size, other size, other container.
  find(tag<double>{}, "index", ec);
  if (ec != seam::errc::type_mismatch) return "index as double: " + ec.message();
  find(tag<index_table>{}, "index", ec);
  if (ec != seam::errc::type_mismatch) return "index as table: " + ec.message();
  find(tag<point>{}, "point", ec);  // "point" is not the name: "po\0int" is
  if (ec || find(tag<point>{}, "point", ec) != nullptr) return "\"point\" found";
  if (find(tag<std::uint64_t>{}, "missing", ec) != nullptr || ec) return "missing name found";
  if (answer_expected) {
    find(tag<float>{}, "answer", ec);  // another size
    if (ec != seam::errc::type_mismatch) return "answer as float: " + ec.message();
  }
  return {};
}

int view_mode() {
  seam::arena_view view = seam::arena_view::open(3);
  auto find = [&]<class T>(tag<T>, std::string_view name, std::error_code& ec) {
    return view.find<T>(name, ec);
  };
  if (auto why = check_all(find, true); !why.empty()) return fail(why);
  say("ok");
  char line[16];
  if (std::fgets(line, sizeof line, stdin) == nullptr) return fail("no go");
  if (auto why = check_all(find, false); !why.empty()) return fail(why);
  say("ok");
  return 0;
}

int session_mode(const char* app, std::uint64_t dataset_id) {
  auto s = seam::session::connect(app, 10s);
  say("connected");
  char line[16];
  if (std::fgets(line, sizeof line, stdin) == nullptr) return fail("no go");  // objects made
  auto find = [&]<class T>(tag<T>, std::string_view name, std::error_code& ec) {
    return s.find<T>(name, ec);
  };
  if (auto why = check_all(find, true); !why.empty()) return fail(why);
  // The shared arena arrives through the session's thread, asynchronously: wait for it.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  const std::uint64_t* shared = nullptr;
  while ((shared = s.find<std::uint64_t>("dataset-answer")) == nullptr) {
    if (std::chrono::steady_clock::now() > deadline) return fail("dataset-answer never seen");
    std::this_thread::yield();
  }
  if (*shared != answer_value + 1) return fail("dataset-answer wrong");
  // The same object through the shared arena's view, found by the arena's id.
  const auto dataset = s.peer_arena(dataset_id);
  if (!dataset || dataset->find<std::uint64_t>("dataset-answer") != shared) {
    return fail("peer_arena(id)->find disagrees");
  }
  say("ok");
  if (std::fgets(line, sizeof line, stdin) == nullptr) return fail("no go");
  if (auto why = check_all(find, false); !why.empty()) return fail(why);
  if (s.find<std::uint64_t>("dataset-answer") != nullptr) return fail("dataset-answer stayed");
  say("ok");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "view") return view_mode();
    if (mode == "session" && argc > 3) {
      return session_mode(argv[2], std::strtoull(argv[3], nullptr, 10));
    }
    return fail("usage: named_reader view | session <app> <dataset arena id>");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

// The crash matrix's writer victims: a client that attaches to the arena the test shared for
// writing (`session::attach`), works on the shared table (test/arena/writer_table.hpp), reaches
// its point, says so, and waits for SIGKILL.

#include <cstring>
#include <string>

#include "arena/writer_table.hpp"
#include "robustness/crash_peer_writers.hpp"
#include "support/peer_output.hpp"

namespace seam::test {

namespace {

int block_until_killed() {
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  return 1;
}

}  // namespace

int writer_victim(seam::session& s, const std::string& mode) {
  using namespace std::chrono_literals;
  seam::arena w = s.attach(0, 30s);
  auto* t = w.find<writer_table>("table");
  if (t == nullptr) return fail("no table");
  seam::arena_scope scope{w};
  // Keys 0..999 are the victim's nodes.
  {
    auto tree = t->tree.lock();
    for (std::int64_t k = 0; k < 1000; ++k) tree->emplace(k, value_of(k));
  }
  if (mode == "writer-lock") {
    auto held = t->tree.lock();
    say("at holding_lock");
    return block_until_killed();
  }
  if (mode == "writer-alloc") {
    // A node's worth of memory, filled and not yet linked into the table.
    void* node = w.allocate(64);
    std::memset(node, 0x5a, 64);
    say("at between_alloc_and_insert");
    return block_until_killed();
  }
  if (mode == "writer-remote") {
    // Frees the survivor's nodes (keys 1000..1499): they wait on the survivor's remote-free
    // list until it collects them.
    {
      auto tree = t->tree.lock();
      for (std::int64_t k = 1000; k < 1500; ++k) tree->erase(k);
    }
    say("at remote_frees_pending");
    return block_until_killed();
  }
  return fail("unknown mode " + mode);
}

}  // namespace seam::test

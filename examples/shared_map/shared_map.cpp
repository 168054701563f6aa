// An inverted index built by one process and queried by another, with no copy in between.
//
//   seam_shared_map [word | "word word" ...]
//
// The first process makes up a corpus (200,000 documents of words drawn from a fixed
// vocabulary with a fixed seed, common words more often, as in real text) and builds its
// inverted index -- word -> every (document, position) where it occurs -- as a
// `seam::map<seam::string, seam::vector<posting>>` in a Seam arena. Then it starts a second copy
// of this program (`--query`) with the arena's read-only fd as fd 3. That process maps the arena,
// finds the index through the arena's root, and answers the queries given on the command line
// (a word, or two words in quotes for a phrase) or a default list, straight from the shared
// bytes. It prints how long after its exec the first answer came: no copy, no parsing, however
// large the index.

#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "seam/seam.hpp"

extern char** environ;

namespace {

constexpr std::uint32_t document_count = 200'000;
constexpr std::size_t vocabulary_size = 5'000;
constexpr int arena_fd = 3;

/// Where a word occurs.
struct posting {
  std::uint32_t document;
  std::uint32_t position;
};

/// `std::less<>` lets the reader look words up by `std::string_view`, without building a
/// `seam::string` (which it could not allocate: it has no arena of its own).
using inverted_index = seam::map<seam::string, seam::vector<posting>, std::less<>>;

/// The arena's root object.
struct corpus_index {
  std::uint64_t documents = 0;
  std::uint64_t postings = 0;     // total, so the reader can check that it sees all of them
  std::int64_t spawned_at_ns = 0;  // CLOCK_MONOTONIC, just before the reader was started
  inverted_index index;
};

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double ms_since(std::int64_t start_ns) { return static_cast<double>(now_ns() - start_ns) / 1e6; }

// A small deterministic generator (splitmix64): the same corpus on every run and platform.
class random_source {
 public:
  explicit random_source(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t m_state;
};

// Pronounceable made-up words, most common first.
std::vector<std::string> make_vocabulary() {
  static constexpr const char* syllables[] = {"ka", "to", "mi", "ra", "ne", "so", "lu", "pe",
                                              "di", "go", "ba", "shi", "en", "ar", "vo", "qui",
                                              "tal", "mor", "ix", "un"};
  random_source random{2024};
  std::set<std::string> seen;
  std::vector<std::string> words;
  while (words.size() < vocabulary_size) {
    std::string word;
    const int length = 2 + static_cast<int>(random.next() % 3);
    for (int i = 0; i < length; ++i) word += syllables[random.next() % std::size(syllables)];
    if (seen.insert(word).second) words.push_back(word);
  }
  return words;
}

// Builds the index in `a`: word by word rank, postings in (document, position) order.
corpus_index* build_index(seam::arena& a, const std::vector<std::string>& vocabulary) {
  // Zipf's law: the k-th most common word occurs about 1/k as often as the first.
  std::vector<double> cumulative(vocabulary.size());
  double total = 0;
  for (std::size_t k = 0; k < vocabulary.size(); ++k) {
    cumulative[k] = total += 1.0 / static_cast<double>(k + 1);
  }

  auto* root = a.make<corpus_index>();
  seam::arena_scope scope{a};
  std::vector<seam::vector<posting>*> postings_of;
  for (const std::string& word : vocabulary) {
    postings_of.push_back(&root->index[seam::string(word.data(), word.size())]);
  }
  random_source random{7};
  for (std::uint32_t document = 0; document < document_count; ++document) {
    const auto length = static_cast<std::uint32_t>(20 + random.next() % 41);
    for (std::uint32_t position = 0; position < length; ++position) {
      const double u = random.unit() * total;
      const auto k = static_cast<std::size_t>(
          std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin());
      postings_of[std::min(k, vocabulary.size() - 1)]->push_back(posting{document, position});
      ++root->postings;
    }
  }
  root->documents = document_count;
  return root;
}

// ---- The query side: reads the index through a read-only view.

const seam::vector<posting>* find(const inverted_index& index, std::string_view word) {
  auto it = index.find(word);
  return it == index.end() ? nullptr : &it->second;
}

std::size_t distinct_documents(const seam::vector<posting>& list) {
  std::size_t count = 0;
  std::uint32_t last = UINT32_MAX;
  for (const posting& p : list) {
    count += p.document != last;
    last = p.document;
  }
  return count;
}

// Answers one query (a word, or "first second" for a phrase); returns the number of matches.
std::size_t answer(const inverted_index& index, const std::string& query) {
  const std::size_t space = query.find(' ');
  if (space == std::string::npos) {
    const auto* list = find(index, query);
    if (list == nullptr) {
      std::printf("query:   %-22s not in the index\n", ("\"" + query + "\"").c_str());
      return 0;
    }
    std::printf("query:   %-22s %zu occurrences in %zu documents; first in document %u at word"
                " %u\n",
                ("\"" + query + "\"").c_str(), list->size(), distinct_documents(*list),
                (*list)[0].document, (*list)[0].position);
    return list->size();
  }
  // A phrase: the second word right after the first. Both lists are sorted by (document,
  // position), so one merge finds every match.
  const auto* first = find(index, query.substr(0, space));
  const auto* second = find(index, query.substr(space + 1));
  std::vector<posting> matches;
  if (first != nullptr && second != nullptr) {
    auto next = second->begin();
    for (const posting& p : *first) {
      const auto after = [&](const posting& q) {
        return q.document < p.document || (q.document == p.document && q.position <= p.position);
      };
      while (next != second->end() && after(*next)) ++next;
      if (next != second->end() && next->document == p.document &&
          next->position == p.position + 1) {
        matches.push_back(p);
      }
    }
  }
  std::printf("query:   %-22s %zu matches", ("\"" + query + "\"").c_str(), matches.size());
  for (std::size_t i = 0; i < std::min<std::size_t>(matches.size(), 3); ++i) {
    std::printf("%s document %u at word %u", i == 0 ? ":" : ",", matches[i].document,
                matches[i].position);
  }
  std::printf("\n");
  return matches.size();
}

int query_side(int argc, char** argv, std::int64_t started_ns) {
  seam::arena_view view = seam::arena_view::open(arena_fd);
  const corpus_index& corpus = *view.root<corpus_index>();
  std::vector<std::string> queries(argv, argv + argc);

  answer(corpus.index, queries.front());
  const double since_exec = ms_since(started_ns);
  const double since_spawn = static_cast<double>(now_ns() - corpus.spawned_at_ns) / 1e6;
  for (std::size_t i = 1; i < queries.size(); ++i) answer(corpus.index, queries[i]);

  // Proof that the whole index is there: every posting of every word, read in place.
  std::uint64_t seen = 0;
  for (const auto& entry : corpus.index) seen += entry.second.size();
  std::printf("query: first answer %.2f ms after this process started (%.2f ms after the owner"
              " spawned it)\n",
              since_exec, since_spawn);
  std::printf("query: read the index in place: %zu words, %llu postings over %llu documents,"
              " mapped read-only at %p; nothing was copied\n",
              corpus.index.size(), static_cast<unsigned long long>(seen),
              static_cast<unsigned long long>(corpus.documents),
              static_cast<const void*>(view.base()));
  return seen == corpus.postings ? 0 : 1;
}

// ---- The owner side.

int owner_side(int argc, char** argv) {
  const std::int64_t start = now_ns();
  const std::vector<std::string> vocabulary = make_vocabulary();
  seam::arena a;
  corpus_index* corpus = build_index(a, vocabulary);
  const double build_ms = ms_since(start);
  const seam::arena_stats stats = a.stats();
  std::printf("owner: built an inverted index of %u documents (%llu words, %zu distinct) in "
              "%.0f ms, directly in a Seam arena\n",
              document_count, static_cast<unsigned long long>(corpus->postings),
              corpus->index.size(), build_ms);
  std::printf("owner: arena: %.1f MiB in live blocks, %.1f MiB resident, %.1f MiB reserved of"
              " %zu GiB address space\n",
              static_cast<double>(stats.allocated) / (1 << 20),
              static_cast<double>(stats.resident) / (1 << 20),
              static_cast<double>(stats.reserved) / (1 << 20), stats.capacity >> 30);
  a.set_root(a.handle_of(corpus));

  // The queries: from the command line, or the most common word, a rare one, a phrase that
  // occurs and one word that does not.
  std::vector<std::string> queries(argv + 1, argv + argc);
  if (queries.empty()) {
    queries = {vocabulary[0], vocabulary[1], vocabulary[999], vocabulary[4999],
               vocabulary[0] + " " + vocabulary[1], "seam"};
  }

  // fd 3 of the reader: a read-only description of the arena (O_CLOEXEC here; dup2 clears it).
  seam::unique_fd shared = a.share();
  std::string self = "/proc/self/exe";
  std::string flag = "--query";
  std::vector<char*> child_argv{self.data(), flag.data()};
  for (std::string& q : queries) child_argv.push_back(q.data());
  child_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, shared.get(), arena_fd);
  std::printf("owner: starting the query process with only the arena's read-only fd\n");
  std::fflush(stdout);
  corpus->spawned_at_ns = now_ns();
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, self.c_str(), &actions, nullptr, child_argv.data(),
                                    environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    std::fprintf(stderr, "owner: posix_spawn: %s\n", std::strerror(spawned));
    return 1;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::printf("owner: the query process %s\n", ok ? "finished: all postings seen" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t started = now_ns();
  try {
    if (argc >= 3 && std::strcmp(argv[1], "--query") == 0) {
      return query_side(argc - 2, argv + 2, started);
    }
    return owner_side(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seam_shared_map: %s\n", e.what());
    return 1;
  }
}

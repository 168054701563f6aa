// Publications (`seam::published<T>`): how fast an owner publishes while reader processes
// acquire continuously, and what one acquire + release costs a reader.
//
// Rows (`<op>/<impl>/<n>`):
//   publish/seam/<readers>   the owner makes a 64-byte version and publishes it, with 0, 1 or 2
//                            reader processes acquiring and releasing in a loop meanwhile
//                            (items/s = publishes per second of the owner's CPU time)
//   acquire/seam/1           acquire + release of the current version in a reader (the owner,
//                            another process, publishes nothing meanwhile)
//   acquire/seam_churn/1     the same while the owner publishes in a loop
//   acquire/shared_ptr/1     the in-process reference: copying and dropping a std::shared_ptr
//                            (two atomic read-modify-writes)
//
// Readers and owners are this program re-executed (`--reader` / `--owner`), so that every
// benchmark starts from fresh processes and no fork copies a threaded process.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "seam/seam.hpp"

namespace {

using namespace std::chrono_literals;

struct version {
  std::uint64_t words[8];
};

std::string g_self;  // this program's path, for the children

// A child running this program in `role`, its stdout and stdin as pipes.
struct child {
  pid_t pid = -1;
  int out = -1;  // the child's stdout
  int in = -1;   // the child's stdin

  child(const char* role, const std::string& app) {
    int o[2], i[2];
    if (::pipe2(o, O_CLOEXEC) != 0 || ::pipe2(i, O_CLOEXEC) != 0) std::abort();
    pid = ::fork();
    if (pid == 0) {
      ::dup2(o[1], 1);
      ::dup2(i[0], 0);
      ::execl(g_self.c_str(), g_self.c_str(), role, app.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(o[1]);
    ::close(i[0]);
    out = o[0];
    in = i[1];
  }
  child(const child&) = delete;
  ~child() {
    ::close(in);
    ::close(out);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  // Waits for one line (a child that died gives an empty one).
  std::string line() const {
    std::string s;
    char c;
    while (::read(out, &c, 1) == 1 && c != '\n') s += c;
    return s;
  }
  void go() const { [[maybe_unused]] ssize_t n = ::write(in, "go\n", 3); }
};

std::string unique_app() {
  static int counter = 0;
  return "bench-published-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

version* next_version(seam::published<version>& pub, std::uint64_t i) {
  version* v = pub.make();
  for (std::uint64_t& w : v->words) w = i;
  return v;
}

void publish(benchmark::State& state, std::size_t readers) {
  const auto app = unique_app();
  seam::session_server server{app};
  seam::arena a;
  seam::published<version> pub(a, "bench");
  pub.publish(next_version(pub, 0));
  std::vector<std::unique_ptr<child>> children;
  std::vector<seam::session> sessions;
  for (std::size_t i = 0; i < readers; ++i) {
    children.push_back(std::make_unique<child>("--reader", app));
    sessions.push_back(server.accept(30s));
    pub.add_reader(sessions.back());
    children.back()->go();
  }
  for (auto& c : children) {
    if (c->line() != "subscribed") state.SkipWithError("reader did not subscribe");
  }
  std::uint64_t i = 1;
  for (auto _ : state) pub.publish(next_version(pub, i++));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["retained"] = static_cast<double>(pub.stats().retained);
  sessions.clear();  // the readers see the close and exit
  children.clear();
}

void acquire(benchmark::State& state, const char* owner_role) {
  const auto app = unique_app();
  seam::session_server server{app};
  child owner(owner_role, app);
  auto s = server.accept(30s);
  if (owner.line() != "ready") return state.SkipWithError("owner not ready");
  seam::published_reader<version> reader(s, "bench");
  std::uint64_t sum = 0;
  for (auto _ : state) {
    auto v = reader.acquire();
    sum += v->words[0];
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void acquire_shared_ptr(benchmark::State& state) {
  auto current = std::make_shared<version>();
  std::uint64_t sum = 0;
  for (auto _ : state) {
    std::shared_ptr<const version> v = current;
    benchmark::DoNotOptimize(v);
    sum += v->words[0];
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// --reader <app>: subscribes after "go", then acquires and reads until the session closes.
int reader_main(const char* app) {
  auto s = seam::session::connect(app, 10s);
  char c;
  while (::read(0, &c, 1) == 1 && c != '\n') {
  }
  seam::published_reader<version> reader(s, "bench");
  std::printf("subscribed\n");
  std::fflush(stdout);
  std::uint64_t sum = 0;
  for (std::uint64_t n = 0;; ++n) {
    {
      auto v = reader.acquire();
      if (v) sum += v->words[n & 7];
    }
    if ((n & 1023) == 0 && !s.is_open()) break;
  }
  return sum == 1 ? 1 : 0;  // keeps the reads
}

// --owner <app> / --owner-churn <app>: publishes to the bench (then, churning, in a loop).
int owner_main(const char* app, bool churn) {
  auto s = seam::session::connect(app, 10s);
  seam::arena a;
  seam::published<version> pub(a, "bench");
  pub.add_reader(s);
  pub.publish(next_version(pub, 1));
  std::printf("ready\n");
  std::fflush(stdout);
  if (!churn) {
    s.wait_closed(std::chrono::milliseconds(-1));
    return 0;
  }
  for (std::uint64_t i = 2; s.is_open(); ++i) pub.publish(next_version(pub, i));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return 2;
  g_self.assign(path, static_cast<std::size_t>(n));
  if (argc == 3 && std::string(argv[1]) == "--reader") return reader_main(argv[2]);
  if (argc == 3 && std::string(argv[1]) == "--owner") return owner_main(argv[2], false);
  if (argc == 3 && std::string(argv[1]) == "--owner-churn") return owner_main(argv[2], true);

  for (int readers = 0; readers <= 2; ++readers) {
    benchmark::RegisterBenchmark(("publish/seam/" + std::to_string(readers)).c_str(), publish,
                                 static_cast<std::size_t>(readers));
  }
  benchmark::RegisterBenchmark("acquire/seam/1", acquire, "--owner");
  benchmark::RegisterBenchmark("acquire/seam_churn/1", acquire, "--owner-churn");
  benchmark::RegisterBenchmark("acquire/shared_ptr/1", acquire_shared_ptr);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

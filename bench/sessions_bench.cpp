// Sessions at scale, with real processes: one server, several client processes opening
// thousands of concurrent sessions, then every session lending, borrowing and opening a channel.
// Prints what it measured: time to connect them all, the server's threads (which must not grow
// with sessions), its memory per idle session, a good client's connect time while silent
// connections are pending, and the time to see every peer die.
//
//   seam_bench_sessions [--sessions 10000] [--clients 4] [--silent 64]
//
// Not a Google Benchmark: one run of a whole system, timed with the wall clock (the machine's
// load shows in it). The program raises RLIMIT_NOFILE (soft, and hard when privileged) to what
// the sessions need: the server holds three descriptors per session (the session's socket, its
// arena's memfd, the channel's socket).

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "seam/seam.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

// A field of /proc/self/status, in kB (or a count, e.g. Threads).
long long status_field(const char* name) {
  std::ifstream in("/proc/self/status");
  const std::size_t n = std::strlen(name);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, n, name) == 0 && line.size() > n && line[n] == ':') {
      return std::atoll(line.c_str() + n + 1);
    }
  }
  return -1;
}

std::size_t count_lines(const char* path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// Raises RLIMIT_NOFILE to `need` descriptors: the soft limit up to the hard one, and the hard
// one too when the process may (CAP_SYS_RESOURCE). Returns the soft limit in force.
rlim_t raise_nofile(rlim_t need) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur >= need) return r.rlim_cur;
  rlimit wanted{need, std::max(need, r.rlim_max)};
  if (::setrlimit(RLIMIT_NOFILE, &wanted) != 0) {
    wanted = {r.rlim_max, r.rlim_max};
    ::setrlimit(RLIMIT_NOFILE, &wanted);
  }
  ::getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}

// A raw connection that never says a word: a silent client.
seam::unique_fd silent_connection(const std::string& app) {
  seam::unique_fd fd{::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = "seam/" + std::to_string(::geteuid()) + "/" + app;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), length) != 0) {
    throw std::runtime_error("silent connection failed");
  }
  return fd;
}

void say(int fd, const std::string& line) {
  const std::string text = line + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::_Exit(3);
}

std::string hear(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

// ---- a client process -------------------------------------------------------------------------

// Connects `count` sessions, says how long it took, then on "go" exercises each: opens a channel,
// lends the server a number from its session arena, and borrows the server's answer (an object
// of the dataset the server shares with every session). Says how many went right. Every
// session's arena allocates here: one jemalloc arena each, so a client process stays well under
// jemalloc's 4095.
int run_client(const std::string& app, std::size_t count, int report, int go) {
  std::vector<seam::session> sessions;
  sessions.reserve(count);
  const auto start = clock_type::now();
  std::size_t busy = 0;
  while (sessions.size() < count) {
    std::error_code ec;
    auto s = seam::session::connect(app, 30s, {}, ec);
    if (ec == seam::errc::busy) {
      ++busy;  // the server's pending handshakes are at their bound: try again
      continue;
    }
    if (ec) {
      say(report, "error connect " + ec.message());
      return 1;
    }
    sessions.push_back(std::move(s));
  }
  say(report, "connected " + std::to_string(count) + " in " + std::to_string(ms_since(start)) +
                  " ms (" + std::to_string(busy) + " told busy)");
  if (hear(go) != "go") return 0;

  // One session at a time, in the order they connected (the server's order too): a channel
  // per session, closed after use, so that the server needs one more descriptor at a time,
  // not one per session.
  const auto exercise = clock_type::now();
  std::size_t ok = 0;
  for (std::size_t i = 0; i < count; ++i) {
    auto& s = sessions[i];
    if (!s.is_open()) {
      say(report, "error session " + std::to_string(i) + " closed: " + s.close_reason().message());
      return 1;
    }
    seam::channel ch = s.open_channel();
    auto* mine = s.arena().make<std::uint64_t>(i);
    const auto h = s.lend(mine).as<std::byte>();
    ch.send(std::as_bytes(std::span("c", 1)), {}, {&h, 1});
    auto m = ch.receive(30s);
    if (m.handles.size() != 1) continue;
    auto answer = s.borrow(m.handles[0].as<std::uint64_t>());
    if (*answer == 42) ++ok;
  }
  // The dataset was shared with every session: mapped here once all the same.
  std::size_t dataset_mappings = 0;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    dataset_mappings += line.find("memfd:sessions-dataset") != std::string::npos;
  }
  say(report, "exercised " + std::to_string(ok) + " in " + std::to_string(ms_since(exercise)) +
                  " ms; the shared dataset mapped " + std::to_string(dataset_mappings) +
                  " time(s) here");
  hear(go);  // "bye": exit, and the server sees every session's peer die
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines appear as they come, and forks copy none
  std::size_t sessions = 10000, clients = 4, silent = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::size_t value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--sessions") sessions = value;
    if (flag == "--clients") clients = std::max<std::size_t>(1, value);
    if (flag == "--silent") silent = value;
  }
  const rlim_t nofile = raise_nofile(static_cast<rlim_t>(sessions * 3 + silent + 1024));
  std::printf("sessions %zu from %zu client processes; RLIMIT_NOFILE raised to %llu\n", sessions,
              clients, static_cast<unsigned long long>(nofile));

  const std::string app = "sessions-bench-" + std::to_string(::getpid());
  seam::session_server server{app};

  // ---- a good client while silent connections are pending ---------------------------------------
  std::vector<seam::unique_fd> silent_fds;
  for (std::size_t i = 0; i < silent; ++i) silent_fds.push_back(silent_connection(app));
  int probe_pipe[2];
  if (::pipe(probe_pipe) != 0) return 1;
  const pid_t probe = ::fork();
  if (probe == 0) {
    const auto t = clock_type::now();
    auto s = seam::session::connect(app, 10s);
    say(probe_pipe[1], std::to_string(ms_since(t)));
    ::pause();  // stays connected until the parent kills it
    std::_Exit(0);
  }
  // Kept open: the thread counts below are with the reactor running (it ends with the last
  // session).
  auto probe_session = server.accept(10s);
  std::printf(
      "with %zu silent connections pending (%zu seen by the server), a good client "
      "connected in %s ms\n",
      silent, server.pending(), hear(probe_pipe[0]).c_str());
  silent_fds.clear();

  // ---- connecting -------------------------------------------------------------------------------
  const long long threads_before = status_field("Threads");
  const long long rss_before = status_field("VmRSS"), anon_before = status_field("RssAnon"),
                  shmem_before = status_field("RssShmem");
  const long long vm_before = status_field("VmSize");
  const std::size_t maps_before = count_lines("/proc/self/maps"), fds_before = open_fds();

  std::vector<pid_t> pids;
  std::vector<int> reports, gos;
  const auto start = clock_type::now();
  for (std::size_t c = 0; c < clients; ++c) {
    int report[2], go[2];
    if (::pipe(report) != 0 || ::pipe(go) != 0) return 1;
    const std::size_t count = sessions / clients + (c < sessions % clients ? 1 : 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(report[0]);
      ::close(go[1]);
      std::_Exit(run_client(app, count, report[1], go[0]));
    }
    ::close(report[1]);
    ::close(go[0]);
    pids.push_back(pid);
    reports.push_back(report[0]);
    gos.push_back(go[1]);
  }
  // One dataset shared with every session: mapped once in each client process however many of
  // its sessions share it. Shared as each session starts, so the share has long arrived when
  // a handle into it does (a share and a channel's messages travel on different sockets).
  seam::arena dataset({.capacity = std::size_t{64} << 20, .name = "sessions-dataset"});
  auto* answer = dataset.make<std::uint64_t>(42);
  std::vector<seam::session> accepted;
  accepted.reserve(sessions);
  while (accepted.size() < sessions) {
    accepted.push_back(server.accept(60s));
    accepted.back().share(dataset);
  }
  const double connect_ms = ms_since(start);
  const long long threads_after = status_field("Threads");
  const long long rss_after = status_field("VmRSS"), anon_after = status_field("RssAnon"),
                  shmem_after = status_field("RssShmem");
  const long long vm_after = status_field("VmSize");
  const std::size_t maps_after = count_lines("/proc/self/maps"), fds_after = open_fds();
  std::printf(
      "connected %zu sessions in %.0f ms (server side, from the first fork; each also "
      "shared the dataset arena)\n",
      sessions, connect_ms);
  for (std::size_t c = 0; c < clients; ++c) {
    std::printf("  client %zu: %s\n", c, hear(reports[c]).c_str());
  }
  std::printf("server threads: %lld with 1 session, %lld with %zu more\n", threads_before,
              threads_after, sessions);
  const double n = static_cast<double>(sessions);
  std::printf(
      "server memory per idle session: RSS %.1f KiB (anonymous %.1f KiB, shared %.1f "
      "KiB), address space %.2f GiB, %.2f mappings, %.2f fds\n",
      static_cast<double>(rss_after - rss_before) / n,
      static_cast<double>(anon_after - anon_before) / n,
      static_cast<double>(shmem_after - shmem_before) / n,
      static_cast<double>(vm_after - vm_before) / n / (1 << 20),
      static_cast<double>(maps_after - maps_before) / n,
      static_cast<double>(fds_after - fds_before) / n);
  std::printf("server totals: VmSize %.1f TiB, %zu mappings, %zu fds, rejected %zu\n",
              static_cast<double>(vm_after) / (1ull << 30), maps_after, fds_after,
              server.rejected());

  // ---- every session lends, borrows and opens a channel
  // ------------------------------------------
  const auto exercise = clock_type::now();
  for (int fd : gos) say(fd, "go");
  std::size_t borrowed_ok = 0;
  for (auto& s : accepted) {
    if (!s.is_open()) {
      std::printf("error: a session closed: %s\n", s.close_reason().message().c_str());
      return 1;
    }
    seam::channel ch = s.accept_channel(30s);
    auto m = ch.receive(30s);
    if (m.handles.size() == 1) {
      auto theirs = s.borrow(m.handles[0].as<std::uint64_t>());
      if (*theirs < sessions) ++borrowed_ok;
    }
    const auto h = s.lend(answer, [] {}).as<std::byte>();
    ch.send(std::as_bytes(std::span("s", 1)), {}, {&h, 1});
  }
  std::printf("server: borrowed %zu of %zu clients' lends and lent to each, %.0f ms\n", borrowed_ok,
              sessions, ms_since(exercise));
  for (std::size_t c = 0; c < clients; ++c) {
    std::printf("  client %zu: %s\n", c, hear(reports[c]).c_str());
  }
  std::printf("server threads after %zu sessions each opened a channel: %lld\n", sessions,
              status_field("Threads"));

  // ---- every peer dies
  // ----------------------------------------------------------------------------
  const auto bye = clock_type::now();
  for (int fd : gos) say(fd, "bye");
  std::size_t closed = 0;
  for (auto& s : accepted) closed += s.wait_closed(30s) ? 1 : 0;
  std::printf("saw %zu of %zu peers leave in %.0f ms\n", closed, sessions, ms_since(bye));
  for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
  ::kill(probe, SIGKILL);
  ::waitpid(probe, nullptr, 0);
  return borrowed_ok == sessions && closed == sessions ? 0 : 1;
}

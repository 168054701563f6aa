// `seam`: shows the Seam session servers and arenas of this user's processes. Read-only: it
// opens arenas read-only and never writes to another process. Every byte it reads of another
// process is checked (arena headers and stats pages through seam::arena_view), and a process
// that exits while being read is reported as such.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "inspect.hpp"
#include "json.hpp"
#include "procfs.hpp"
#include "seam/version.hpp"

namespace seam::tool {
namespace {

constexpr const char* usage_text =
    "usage: seam [--json] servers          session servers of this user, with their pids\n"
    "       seam [--json] arenas [PID...]  arenas each process maps or holds (default: all of\n"
    "                                      this user's processes)\n"
    "       seam [--json] stats PID        what each arena of PID last published of its stats\n"
    "       seam --version\n";

std::string hex(std::uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return text;
}

std::uint64_t now_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000 +
         static_cast<std::uint64_t>(t.tv_nsec);
}

// The pids named on the command line; false (with a message) if one is not a number.
bool parse_pids(const std::vector<std::string>& args, std::vector<pid_t>& pids) {
  for (const std::string& a : args) {
    char* end = nullptr;
    const long v = std::strtol(a.c_str(), &end, 10);
    if (a.empty() || *end != '\0' || v <= 0 || v > (1L << 22)) {
      std::fprintf(stderr, "seam: not a pid: %s\n", a.c_str());
      return false;
    }
    pids.push_back(static_cast<pid_t>(v));
  }
  return true;
}

void write_stats(json_writer& j, const published_arena_stats& s) {
  j.member("capacity", s.capacity);
  j.member("reserved", s.reserved);
  j.member("allocated", s.allocated);
  j.member("resident", s.resident);
  j.member("extents", s.extents);
  j.member("owner_pid", s.owner_pid);
  j.member("published_ns", s.published_ns);
  j.member("publications", s.publications);
}

void write_arena_json(json_writer& j, const arena_info& a, pid_t pid) {
  j.begin_object();
  j.member("inode", a.inode);
  j.member("name", a.name);
  j.member("verified", a.is_arena);
  if (!a.is_arena) j.member("not_verified_because", a.why_not);
  if (a.is_arena) {
    j.member("id", hex(a.id));
    j.member("capacity", a.capacity);
    j.member("resident", a.resident);
    j.key("named_objects");
    j.begin_array();
    for (const named_object_info& n : a.names) {
      j.begin_object();
      j.member("name", n.name);
      j.member("offset", n.offset);
      j.member("size", n.size);
      j.member("alignment", n.alignment);
      j.member("fingerprint", hex(n.fingerprint));
      j.end_object();
    }
    j.end_array();
    if (!a.names_error.empty()) j.member("named_objects_error", a.names_error);
  }
  for (const arena_use& u : a.users) {
    if (u.pid != pid) continue;
    j.member("role", u.role());
    j.member("fd", u.fd);
  }
  j.key("mapped_by");
  j.begin_array();
  for (const arena_use& u : a.users) {
    if (u.pid == pid) continue;
    j.begin_object();
    j.member("pid", static_cast<std::int64_t>(u.pid));
    j.member("role", u.role());
    j.end_object();
  }
  j.end_array();
  j.end_object();
}

int arenas(const std::vector<std::string>& args, bool json) {
  std::vector<pid_t> pids;
  if (!parse_pids(args, pids)) return 2;
  const bool all = pids.empty();
  if (all) pids = processes_of(::geteuid());
  const inspection in = inspect(pids);
  int status = 0;
  std::string out;
  json_writer j(out);
  if (json) {
    j.begin_object();
    j.key("processes");
    j.begin_array();
  }
  for (const process_info& p : in.processes) {
    // Listing all processes, skip those that went away meanwhile and those with no arena
    // (a memfd that no process holds a descriptor of may be any program's: unverified).
    const bool any_arena = std::any_of(p.arenas.begin(), p.arenas.end(),
                                       [&](std::uint64_t i) { return in.arenas.at(i).is_arena; });
    if (all && (!any_arena || !p.error.empty())) continue;
    if (!p.error.empty() && !all) status = 1;
    if (json) {
      j.begin_object();
      j.member("pid", static_cast<std::int64_t>(p.pid));
      j.member("command", p.command);
      if (!p.error.empty()) j.member("error", p.error);
      j.key("arenas");
      j.begin_array();
      for (const std::uint64_t inode : p.arenas) write_arena_json(j, in.arenas.at(inode), p.pid);
      j.end_array();
      j.end_object();
      continue;
    }
    if (!p.error.empty()) {
      std::fprintf(stderr, "seam: pid %d: %s\n", static_cast<int>(p.pid), p.error.c_str());
      continue;
    }
    std::printf("pid %d (%s): %zu arena%s\n", static_cast<int>(p.pid), p.command.c_str(),
                p.arenas.size(), p.arenas.size() == 1 ? "" : "s");
    for (const std::uint64_t inode : p.arenas) {
      const arena_info& a = in.arenas.at(inode);
      const char* role = "";
      for (const arena_use& u : a.users) {
        if (u.pid == p.pid) role = u.role();
      }
      if (a.is_arena) {
        std::printf("  %s  %-8s %-7s capacity %-10s resident %-10s", hex(a.id).c_str(),
                    a.name.c_str(), role, bytes(a.capacity).c_str(), bytes(a.resident).c_str());
      } else {
        std::printf("  (unverified: %s)  %-8s %-7s", a.why_not.c_str(), a.name.c_str(), role);
      }
      std::string others;
      for (const arena_use& u : a.users) {
        if (u.pid == p.pid) continue;
        // Appended piece by piece: gcc 12 -O3 warns (-Wrestrict) on `"," + std::string`.
        if (!others.empty()) others.append(", ");
        others.append(std::to_string(u.pid)).append(" ").append(u.role());
      }
      std::printf("%s%s\n", others.empty() ? "" : "  also: ", others.c_str());
      if (!a.names.empty()) {
        std::string names;
        for (std::size_t i = 0; i < a.names.size() && i < 8; ++i) {
          if (!names.empty()) names.append(", ");
          names.append(a.names[i].name);
        }
        if (a.names.size() > 8) names.append(", ...");
        std::printf("    %zu named: %s\n", a.names.size(), names.c_str());
      }
      if (!a.names_error.empty()) std::printf("    named objects: %s\n", a.names_error.c_str());
    }
  }
  if (json) {
    j.end_array();
    j.end_object();
    std::printf("%s\n", out.c_str());
  }
  return status;
}

int stats(const std::vector<std::string>& args, bool json) {
  std::vector<pid_t> pids;
  if (!parse_pids(args, pids)) return 2;
  if (pids.size() != 1) {
    std::fputs(usage_text, stderr);
    return 2;
  }
  const inspection in = inspect(pids);
  const process_info& p = in.processes.front();
  const std::uint64_t now = now_ns();
  std::string out;
  json_writer j(out);
  if (json) {
    j.begin_object();
    j.member("pid", static_cast<std::int64_t>(p.pid));
    j.member("command", p.command);
    if (!p.error.empty()) j.member("error", p.error);
    j.key("arenas");
    j.begin_array();
  } else if (!p.error.empty()) {
    std::fprintf(stderr, "seam: pid %d: %s\n", static_cast<int>(p.pid), p.error.c_str());
    return 1;
  }
  for (const std::uint64_t inode : p.arenas) {
    const arena_info& a = in.arenas.at(inode);
    if (!a.is_arena) continue;
    const char* role = "";
    for (const arena_use& u : a.users) {
      if (u.pid == p.pid) role = u.role();
    }
    if (json) {
      j.begin_object();
      j.member("id", hex(a.id));
      j.member("name", a.name);
      j.member("role", role);
      j.member("published", a.stats.has_value());
      if (!a.stats_error.empty()) j.member("error", a.stats_error);
      if (a.stats) write_stats(j, *a.stats);
      j.end_object();
      continue;
    }
    std::printf("arena %s (%s, %s)\n", hex(a.id).c_str(), a.name.c_str(), role);
    if (!a.stats) {
      std::printf("  no stats: %s\n", a.stats_error.empty()
                                          ? "the owner has not published any (it does on "
                                            "arena::stats(), share() and purge())"
                                          : a.stats_error.c_str());
      continue;
    }
    const published_arena_stats& s = *a.stats;
    const double age = s.published_ns <= now ? static_cast<double>(now - s.published_ns) / 1e9 : 0;
    std::printf("  capacity %s  reserved %s  allocated %s  resident %s  extents %llu\n",
                bytes(s.capacity).c_str(), bytes(s.reserved).c_str(), bytes(s.allocated).c_str(),
                bytes(s.resident).c_str(), static_cast<unsigned long long>(s.extents));
    std::printf("  published by pid %llu, %.1f s ago (%llu times)\n",
                static_cast<unsigned long long>(s.owner_pid), age,
                static_cast<unsigned long long>(s.publications));
  }
  if (json) {
    j.end_array();
    j.end_object();
    std::printf("%s\n", out.c_str());
  }
  return p.error.empty() ? 0 : 1;
}

int servers(bool json) {
  const std::string prefix = "seam/" + std::to_string(::geteuid()) + "/";
  std::error_code ec;
  const std::vector<unix_socket> sockets = abstract_sockets(prefix, ec);
  if (ec) {
    std::fprintf(stderr, "seam: /proc/net/unix: %s\n", ec.message().c_str());
    return 1;
  }
  // Which of this user's processes hold each socket.
  std::map<std::uint64_t, std::set<pid_t>> holders;
  for (const pid_t pid : processes_of(::geteuid())) {
    std::error_code fd_ec;
    for (const open_file& f : interesting_fds(pid, fd_ec)) {
      if (f.target.rfind("socket:", 0) == 0) holders[f.inode].insert(pid);
    }
  }
  struct server {
    std::set<pid_t> pids;
    std::size_t sessions = 0;
  };
  std::map<std::string, server> by_name;
  for (const unix_socket& s : sockets) {
    server& entry = by_name[s.name];
    if (s.listening) {
      const auto h = holders.find(s.inode);
      if (h != holders.end()) entry.pids.insert(h->second.begin(), h->second.end());
    } else {
      ++entry.sessions;  // an accepted connection keeps the listener's name
    }
  }
  std::string out;
  json_writer j(out);
  if (json) {
    j.begin_object();
    j.key("servers");
    j.begin_array();
  }
  for (const auto& [name, s] : by_name) {
    if (s.pids.empty() && s.sessions == 0) continue;
    const std::string app = name.substr(prefix.size());
    if (json) {
      j.begin_object();
      j.member("app", app);
      j.member("address", "@" + name);
      j.key("pids");
      j.begin_array();
      for (const pid_t pid : s.pids) j.value(static_cast<std::int64_t>(pid));
      j.end_array();
      j.member("sessions", static_cast<std::uint64_t>(s.sessions));
      j.end_object();
      continue;
    }
    std::string pids;
    for (const pid_t pid : s.pids) {
      if (!pids.empty()) pids.append(",");
      pids.append(std::to_string(pid));
    }
    std::printf("%-24s @%s  pid %s  %zu session%s\n", app.c_str(), name.c_str(),
                pids.empty() ? "?" : pids.c_str(), s.sessions, s.sessions == 1 ? "" : "s");
  }
  if (json) {
    j.end_array();
    j.end_object();
    std::printf("%s\n", out.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace seam::tool

int main(int argc, char** argv) {
  using namespace seam::tool;
  bool json = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--version") {
      std::printf("seam %s\n", seam::version());
      return 0;
    } else if (a == "-h" || a == "--help") {
      std::fputs(usage_text, stdout);
      return 0;
    } else {
      args.emplace_back(a);
    }
  }
  if (args.empty()) {
    std::fputs(usage_text, stderr);
    return 2;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "servers" && args.empty()) return servers(json);
  if (command == "arenas") return arenas(args, json);
  if (command == "stats") return stats(args, json);
  std::fputs(usage_text, stderr);
  return 2;
}

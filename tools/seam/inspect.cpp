#include "inspect.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "procfs.hpp"

namespace seam::tool {
namespace {

// Test hook: with SEAM_TOOL_TEST_PAUSE=<write fd>:<read fd>, after reading a process's maps the
// tool writes "<pid>\n" to the first fd and waits for one byte on the second, so that a test
// can end that process exactly there. Never set outside tests.
void test_pause(pid_t pid) {
  const char* spec = std::getenv("SEAM_TOOL_TEST_PAUSE");
  if (spec == nullptr) return;
  int out = -1, in = -1;
  if (std::sscanf(spec, "%d:%d", &out, &in) != 2) return;
  const std::string line = std::to_string(pid) + "\n";
  if (::write(out, line.data(), line.size()) < 0) return;
  char byte;
  while (::read(in, &byte, 1) < 0 && errno == EINTR) {
  }
}

// Opens the arena behind `fd` (ours) and fills `a` from its checked header and stats page.
void examine(int fd, arena_info& a) {
  std::error_code ec;
  const arena_view view = arena_view::open(fd, ec);
  if (ec) {
    a.why_not = ec.message();
    return;
  }
  a.is_arena = true;
  a.id = view.id();
  a.capacity = view.size();
  struct stat st {};
  if (::fstat(fd, &st) == 0) a.resident = static_cast<std::uint64_t>(st.st_blocks) * 512;
  a.stats = view.stats(ec);
  if (ec) a.stats_error = ec.message();
  a.names = view.names(ec);
  if (ec) a.names_error = ec.message();
}

}  // namespace

std::string describe_error(const std::error_code& ec) {
  if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted) {
    return "permission denied (another user's process?)";
  }
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::no_such_process) {
    return "no such process (or it exited)";
  }
  return ec.message();
}

inspection inspect(const std::vector<pid_t>& pids) {
  inspection result;
  for (const pid_t pid : pids) {
    process_info p;
    p.pid = pid;
    p.command = command_of(pid);
    std::error_code ec;
    const std::vector<memfd_mapping> mappings = memfd_mappings(pid, ec);
    if (!ec) test_pause(pid);
    std::vector<open_file> fds;
    if (!ec) fds = interesting_fds(pid, ec);
    if (ec) {
      p.error = describe_error(ec);
      result.processes.push_back(std::move(p));
      continue;
    }
    std::map<std::uint64_t, arena_use> uses;
    for (const memfd_mapping& m : mappings) {
      arena_use& u = uses[m.inode];
      u.pid = pid;
      u.mapped = true;
      u.writable = u.writable || m.writable;
      result.arenas[m.inode].name = m.name;
    }
    for (const open_file& f : fds) {
      if (f.target.rfind("/memfd:", 0) != 0) continue;
      arena_use& u = uses[f.inode];
      u.pid = pid;
      if (u.fd < 0) u.fd = f.fd;
      arena_info& a = result.arenas[f.inode];
      if (a.name.empty()) {
        a.name = f.target.substr(7);
        const auto deleted = a.name.rfind(" (deleted)");
        if (deleted != std::string::npos) a.name.resize(deleted);
      }
    }
    for (auto& [inode, use] : uses) {
      result.arenas[inode].inode = inode;
      result.arenas[inode].users.push_back(use);
      p.arenas.push_back(inode);
    }
    result.processes.push_back(std::move(p));
  }

  // Open each memfd once, through the first process that still holds a descriptor of it.
  std::set<std::uint64_t> not_arenas;
  for (auto& [inode, a] : result.arenas) {
    bool opened = false;
    std::string last_error = "no inspected process holds a descriptor of it";
    for (const arena_use& u : a.users) {
      if (u.fd < 0) continue;
      std::error_code ec;
      const int fd = open_descriptor(u.pid, u.fd, ec);
      if (fd < 0) {
        last_error = describe_error(ec);
        continue;
      }
      examine(fd, a);
      ::close(fd);
      opened = true;
      break;
    }
    if (!opened) {
      a.why_not = last_error;
    } else if (!a.is_arena) {
      not_arenas.insert(inode);  // a descriptor proved it: some other program's memfd
    }
  }
  for (const std::uint64_t inode : not_arenas) result.arenas.erase(inode);
  for (process_info& p : result.processes) {
    std::erase_if(p.arenas, [&](std::uint64_t inode) { return not_arenas.count(inode) != 0; });
  }
  return result;
}

}  // namespace seam::tool

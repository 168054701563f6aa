#include "procfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <memory>
#include <sstream>

namespace seam::tool {
namespace {

std::error_code last_error() { return {errno, std::system_category()}; }

bool parse_number(std::string_view text, std::uint64_t& out, int base = 10) {
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return err == std::errc{} && end == text.data() + text.size();
}

std::string proc_path(pid_t pid, const char* what) {
  return "/proc/" + std::to_string(pid) + "/" + what;
}

// Reads a whole (small, text) /proc file. A process that exits meanwhile gives ESRCH or
// ENOENT; a short file is fine.
std::string read_file(const std::string& path, std::error_code& ec) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ec = last_error();
    return {};
  }
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ec = last_error();
      ::close(fd);
      return {};
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  ec.clear();
  return text;
}

struct dir_closer {
  void operator()(DIR* d) const { ::closedir(d); }
};

}  // namespace

std::vector<pid_t> processes_of(uid_t uid) {
  std::vector<pid_t> pids;
  std::unique_ptr<DIR, dir_closer> proc{::opendir("/proc")};
  if (!proc) return pids;
  while (const dirent* e = ::readdir(proc.get())) {
    std::uint64_t pid = 0;
    if (!parse_number(e->d_name, pid) || pid == 0 || pid > (1u << 22)) continue;
    struct stat st {};
    if (::fstatat(dirfd(proc.get()), e->d_name, &st, 0) != 0) continue;  // gone
    if (st.st_uid == uid) pids.push_back(static_cast<pid_t>(pid));
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::string command_of(pid_t pid) {
  // The program's file name from argv[0] (comm is cut to 15 bytes: two programs that share a
  // long prefix would look alike); comm if argv is empty (a kernel thread, a zombie).
  std::error_code ec;
  std::string argv0 = read_file(proc_path(pid, "cmdline"), ec);
  argv0 = argv0.substr(0, argv0.find('\0'));
  argv0 = argv0.substr(argv0.rfind('/') == std::string::npos ? 0 : argv0.rfind('/') + 1);
  if (!argv0.empty()) return argv0;
  std::string name = read_file(proc_path(pid, "comm"), ec);
  while (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

std::vector<memfd_mapping> memfd_mappings(pid_t pid, std::error_code& ec) {
  std::vector<memfd_mapping> out;
  const std::string text = read_file(proc_path(pid, "maps"), ec);
  if (ec) return out;
  // "start-end perms offset dev inode   path", path "/memfd:<name> (deleted)".
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, dev, inode;
    fields >> range >> perms >> offset >> dev >> inode;
    std::string path;
    std::getline(fields >> std::ws, path);
    if (perms.size() != 4 || perms[3] != 's' || path.rfind("/memfd:", 0) != 0) continue;
    const auto dash = range.find('-');
    memfd_mapping m;
    if (dash == std::string::npos || !parse_number(range.substr(0, dash), m.start, 16) ||
        !parse_number(range.substr(dash + 1), m.end, 16) || !parse_number(inode, m.inode)) {
      continue;
    }
    m.writable = perms[1] == 'w';
    m.name = path.substr(7);
    const std::string deleted = " (deleted)";
    if (m.name.size() >= deleted.size() &&
        m.name.compare(m.name.size() - deleted.size(), deleted.size(), deleted) == 0) {
      m.name.resize(m.name.size() - deleted.size());
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<open_file> interesting_fds(pid_t pid, std::error_code& ec) {
  std::vector<open_file> out;
  const std::string dir = proc_path(pid, "fd");
  std::unique_ptr<DIR, dir_closer> d{::opendir(dir.c_str())};
  if (!d) {
    ec = last_error();
    return out;
  }
  while (const dirent* e = ::readdir(d.get())) {
    std::uint64_t fd = 0;
    if (!parse_number(e->d_name, fd) || fd > 1u << 30) continue;
    char target[512];
    const ssize_t n = ::readlinkat(dirfd(d.get()), e->d_name, target, sizeof target - 1);
    if (n < 0) continue;  // closed meanwhile
    open_file f;
    f.fd = static_cast<int>(fd);
    f.target.assign(target, static_cast<std::size_t>(n));
    if (f.target.rfind("socket:[", 0) == 0 && f.target.back() == ']') {
      if (!parse_number(std::string_view(f.target).substr(8, f.target.size() - 9), f.inode)) {
        continue;
      }
    } else if (f.target.rfind("/memfd:", 0) == 0) {
      struct stat st {};
      if (::fstatat(dirfd(d.get()), e->d_name, &st, 0) != 0) continue;
      f.inode = st.st_ino;
    } else {
      continue;
    }
    out.push_back(std::move(f));
  }
  // A process that exited while we read shows an empty directory: say so.
  if (::access(proc_path(pid, "fd").c_str(), F_OK) != 0) {
    ec = last_error();
    return {};
  }
  ec.clear();
  return out;
}

int open_descriptor(pid_t pid, int fd, std::error_code& ec) {
  const std::string path = proc_path(pid, "fd/") + std::to_string(fd);
  const int opened = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (opened < 0) {
    ec = last_error();
  } else {
    ec.clear();
  }
  return opened;
}

std::vector<unix_socket> abstract_sockets(const std::string& prefix, std::error_code& ec) {
  std::vector<unix_socket> out;
  const std::string text = read_file("/proc/net/unix", ec);
  if (ec) return out;
  // "Num RefCount Protocol Flags Type St Inode Path"; Flags has __SO_ACCEPTCON (1 << 16) on a
  // listening socket.
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, inode, path;
    fields >> num >> refs >> protocol >> flags >> type >> state >> inode;
    std::getline(fields >> std::ws, path);
    if (path.size() < 2 || path[0] != '@' || path.compare(1, prefix.size(), prefix) != 0) {
      continue;
    }
    unix_socket s;
    std::uint64_t flag_bits = 0;
    if (!parse_number(inode, s.inode) || !parse_number(flags, flag_bits, 16)) continue;
    s.listening = (flag_bits & (1u << 16)) != 0;
    s.name = path.substr(1);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace seam::tool

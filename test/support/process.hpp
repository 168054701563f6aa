#pragma once
// Real processes for tests: start a helper executable with chosen fds, wait for it with a
// timeout, talk to it over pipes. Waits use poll() on pidfds and pipes: never sleeps.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "seam/base/unique_fd.hpp"

namespace seam::test {

/// A started process; killed (SIGKILL) and reaped when destroyed if still running.
class process {
 public:
  process() = default;
  explicit process(pid_t pid)
      : m_pid(pid), m_pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {
    if (!m_pidfd) throw std::runtime_error("pidfd_open failed");
  }
  process(process&& o) noexcept
      : m_pid(std::exchange(o.m_pid, -1)), m_pidfd(std::move(o.m_pidfd)) {}
  process& operator=(process&& o) noexcept {
    std::swap(m_pid, o.m_pid);
    std::swap(m_pidfd, o.m_pidfd);
    return *this;
  }
  ~process() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
  }

  pid_t pid() const { return m_pid; }
  void kill(int sig = SIGKILL) const { ::kill(m_pid, sig); }

  /// Waits up to `timeout` for the process to end. Returns its exit code (0..255), or
  /// 1000 + signal number if a signal killed it. Throws on timeout (and kills it).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    pollfd p{m_pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      ::kill(m_pid, SIGKILL);  // reaped by the destructor
      throw std::runtime_error("process " + std::to_string(m_pid) + " did not end in time");
    }
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
    return WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : WEXITSTATUS(status);
  }

 private:
  pid_t m_pid = -1;
  unique_fd m_pidfd;
};

/// A pipe: `read_end`, `write_end`, both close-on-exec.
struct pipe_pair {
  unique_fd read_end, write_end;
  pipe_pair() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
};

/// Starts `path` with `args`; each {from, to} in `fds` makes the parent's fd `from` the
/// child's fd `to` (not close-on-exec). Other close-on-exec fds do not reach the child.
inline process spawn(const std::string& path, const std::vector<std::string>& args,
                     const std::vector<std::pair<int, int>>& fds = {}) {
  std::vector<std::string> all{path};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<int> moved(fds.size());  // allocated before fork: the child may not allocate
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Move sources out of the way first so that a source equal to another mapping's target
    // is not clobbered.
    for (std::size_t i = 0; i < fds.size(); ++i) {
      moved[i] = ::fcntl(fds[i].first, F_DUPFD_CLOEXEC, 100);
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (::dup2(moved[i], fds[i].second) < 0) ::_exit(126);
    }
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  return process(pid);
}

/// Runs `body` in a forked child whose exit code is `body`'s return value.
template <class Body>
process fork_run(Body body) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) ::_exit(body());
  return process(pid);
}

/// Reads one line (without '\n') from `fd`, waiting up to `timeout`; throws on timeout/EOF.
inline std::string read_line(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  std::string line;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      throw std::runtime_error("no line in time (got \"" + line + "\")");
    }
    char c;
    if (::read(fd, &c, 1) != 1)
      throw std::runtime_error("EOF before end of line (got \"" + line + "\")");
    if (c == '\n') return line;
    line += c;
  }
}

/// Writes `text` fully to `fd`.
inline void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) throw std::runtime_error("write failed");
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace seam::test

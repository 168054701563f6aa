// seam_perf_demo: runs the whole comparison as a deployment would, with two processes — it
// starts seam_perf_demo_server, waits until it listens, starts seam_perf_demo_client with the
// flags below, and waits for both.
//
//   seam_perf_demo [--sizes 100K,1M,10M,100M,1G] [--round-trips N] [--json FILE]
//                  [--plot FILE.png] [--app NAME] [--pings N] [--transport socket|ring]
//
// The two programs are found next to this one (through /proc/self/exe). The server exits when
// the client's session closes; if it does not within a few seconds it is killed and the run
// fails. Both children die with the driver (PR_SET_PDEATHSIG), so an interrupted run leaves no
// process behind; their memory is memfd-backed and goes with them.

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* usage_text =
    "usage: seam_perf_demo [--sizes 100K,1M,10M,100M,1G] [--round-trips N] [--json FILE]\n"
    "                      [--plot FILE.png] [--app NAME] [--pings N]\n"
    "                      [--transport socket|ring]\n"
    "  --sizes        response sizes, K/M/G = KiB/MiB/GiB (default: all five above)\n"
    "  --round-trips  timed round trips per size and path (default 20; the copy path runs at\n"
    "                 most 5 from 100 MiB on)\n"
    "  --json FILE    write one record per size and path\n"
    "  --plot FILE    draw round trip against size (log-log) with gnuplot; no plot without it\n"
    "  --app NAME     session name of the server (default seam-perf-demo)\n"
    "  --pings N      untimed tiny round trips before each timed one (default 512; 0: none),\n"
    "                 so that the check of the previous response does not leave the CPUs\n"
    "                 cold for the next timed round trip\n"
    "  --transport    the zero-copy path's channel: socket (default) or the shared-memory ring\n";

// The directory this executable lives in, where its two siblings are.
std::string own_directory() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string p(path, static_cast<std::size_t>(n));
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

// Starts `argv[0]` with `keep_fd` (if >= 0) as descriptor 3; the child gets SIGTERM if the
// driver dies first.
pid_t start(const std::vector<std::string>& args, int keep_fd) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: only async-signal-safe calls until exec.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);  // the driver died before the prctl
  if (keep_fd == 3) {
    ::fcntl(3, F_SETFD, 0);  // dup2 onto itself would keep close-on-exec
  } else if (keep_fd >= 0 && ::dup2(keep_fd, 3) < 0) {
    ::_exit(127);
  }
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// Waits up to `timeout_ms` (-1: forever) for `pid`; returns its wait status, or -1 on timeout.
int wait_for(pid_t pid, int timeout_ms) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int r;
    while ((r = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    ::close(pidfd);
    if (r == 0) return -1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

std::string describe(int status) {
  if (status == -1) return "did not exit";
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Reads the server's "ready" line; false if it exited or stayed silent for `timeout_ms`.
bool wait_ready(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char line[16] = {};
  return ::read(fd, line, sizeof line - 1) > 0 && std::string_view(line).starts_with("ready");
}

}  // namespace

int main(int argc, char** argv) {
  std::string app = "seam-perf-demo";
  std::vector<std::string> client_flags;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage_text, stdout);
      return 0;
    }
    const bool known = arg == "--sizes" || arg == "--round-trips" || arg == "--json" ||
                       arg == "--plot" || arg == "--app" || arg == "--pings" ||
                       arg == "--transport";
    if (!known || i + 1 >= argc) {
      std::fputs(usage_text, stderr);
      return 2;
    }
    if (arg == "--app") {
      app = argv[++i];
    } else {
      client_flags.emplace_back(arg);
      client_flags.emplace_back(argv[++i]);
    }
  }
  const std::string dir = own_directory();

  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    std::perror("seam_perf_demo: pipe");
    return 1;
  }
  const pid_t server =
      start({dir + "/seam_perf_demo_server", "--app", app, "--ready-fd", "3"}, ready[1]);
  ::close(ready[1]);
  if (server < 0 || !wait_ready(ready[0], 10000)) {
    ::close(ready[0]);
    if (server > 0) {
      ::kill(server, SIGKILL);
      std::fprintf(stderr, "seam_perf_demo: the server did not start (%s)\n",
                   describe(wait_for(server, -1)).c_str());
    }
    return 1;
  }
  ::close(ready[0]);

  std::vector<std::string> client_args = {dir + "/seam_perf_demo_client", "--app", app};
  client_args.insert(client_args.end(), client_flags.begin(), client_flags.end());
  const pid_t client = start(client_args, -1);
  const int client_status = client > 0 ? wait_for(client, -1) : -1;
  const bool client_ok = WIFEXITED(client_status) && WEXITSTATUS(client_status) == 0;
  if (!client_ok)
    std::fprintf(stderr, "seam_perf_demo: client failed (%s)\n", describe(client_status).c_str());

  // The client is gone, so is its session: the server should be on its way out. A client that
  // failed may have failed before it connected, so the server is told to stop.
  if (!client_ok) ::kill(server, SIGTERM);
  int server_status = wait_for(server, 10000);
  if (server_status == -1) {
    std::fprintf(stderr, "seam_perf_demo: the server did not exit after the client; killing it\n");
    ::kill(server, SIGKILL);
    wait_for(server, -1);
  } else if (client_ok && !(WIFEXITED(server_status) && WEXITSTATUS(server_status) == 0)) {
    std::fprintf(stderr, "seam_perf_demo: server failed (%s)\n", describe(server_status).c_str());
  }
  const bool server_ok =
      server_status != -1 && WIFEXITED(server_status) && WEXITSTATUS(server_status) == 0;
  return client_ok && server_ok ? 0 : 1;
}

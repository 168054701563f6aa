// A front process accepts TCP connections and hands each connected socket to a worker process
// over a seam channel; the worker reads the request and answers on that very socket.
//
// This is the shape of a TLS front end or a load balancer that passes connections to workers:
// the front never touches the request, and the client never knows a second process answered.
//
//   seam_socket_handoff [clients]      (default 3)
//
// The front listens on an ephemeral loopback port, starts a worker (this program again, with
// `--worker <app>`), which connects to the front's session server; then the front plays the
// clients itself: each connects, sends one line, and prints the answer. At the end the front
// closes the session, the worker sees it and exits, and the front reports its exit status.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "seam/channel.hpp"
#include "seam/session.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;

// Both processes write to the same terminal or pipe: flush each line so they interleave in the
// order they happened, not in the order the buffers filled.
[[gnu::format(printf, 1, 2)]] void say(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vfprintf(stdout, format, args);
  va_end(args);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

// A socket should never hang this demo: give up on a silent peer after two seconds.
void set_io_timeout(int fd) {
  const timeval two_seconds{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &two_seconds, sizeof two_seconds);
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("send");
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until `stop` (kept out of the result) or end of stream.
std::string read_until(int fd, char stop) {
  std::string text;
  char c;
  for (;;) {
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("recv");
    if (n == 0 || c == stop) return text;
    text += c;
  }
}

std::string address_of(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = "?";
  ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

// ---------------------------------------------------------------------------------------------
// The worker: answers on the sockets the front hands over, until the front closes the session.

int run_worker(std::string_view app) {
  const int me = ::getpid();
  auto session = seam::session::connect(app, 5s);
  auto channel = session.accept_channel(5s);
  say("worker (pid %d): connected to the front (pid %d), waiting for sockets", me,
      session.peer_pid());
  channel.send("ready");  // lets the front start its clients only now, so the log reads in order
  seam::message m;
  std::error_code ec;
  while (channel.receive(m, seam::channel::forever, ec)) {
    if (m.fds.size() != 1) {
      say("worker (pid %d): a message without exactly one socket, ignored", me);
      continue;
    }
    const seam::unique_fd connection = std::move(m.fds.front());
    try {
      set_io_timeout(connection.get());
      sockaddr_in client{};
      socklen_t length = sizeof client;
      ::getpeername(connection.get(), reinterpret_cast<sockaddr*>(&client), &length);
      const std::string request = read_until(connection.get(), '\n');
      say("worker (pid %d): got %s from the front (client %s), request \"%s\"", me,
          std::string(m.text()).c_str(), address_of(client).c_str(), request.c_str());
      write_all(connection.get(), "\"" + request + "\": accepted by pid " +
                                      std::to_string(session.peer_pid()) + ", answered by pid " +
                                      std::to_string(me) + "\n");
    } catch (const std::system_error& e) {
      // One silent or vanished client must not take the worker down with it.
      say("worker (pid %d): %s: %s", me, std::string(m.text()).c_str(), e.what());
    }
  }  // `connection` closes here: the client sees the end of the answer
  if (ec != seam::errc::peer_closed) throw std::system_error(ec, "worker: receive");
  // The front closes the channel and then the session; wait for the latter, which is what a
  // worker serving many channels would watch.
  session.wait_closed(5s);
  say("worker (pid %d): the front closed the session, exiting", me);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The front: accepts, hands over, and plays the clients.

pid_t start_worker(const std::string& app) {
  std::string self = "/proc/self/exe", flag = "--worker", name = app;
  char* argv[] = {self.data(), flag.data(), name.data(), nullptr};
  pid_t pid = -1;
  if (const int e = ::posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, environ); e != 0) {
    errno = e;
    fail("posix_spawn");
  }
  return pid;
}

int run_front(int clients) {
  const int me = ::getpid();
  // The session server listens before the worker starts, so its connect cannot come too early.
  // The pid in the name keeps two runs of the demo apart.
  const std::string app = "socket-handoff-" + std::to_string(me);
  seam::session_server server{app};

  const seam::unique_fd listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (!listener) fail("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // the kernel picks a free port
  socklen_t length = sizeof address;
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener.get(), 16) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    fail("listen");
  }
  say("front  (pid %d): listening on %s", me, address_of(address).c_str());

  const pid_t worker = start_worker(app);
  int status = 0;
  try {
    auto session = server.accept(5s);
    auto channel = session.open_channel();
    say("front  (pid %d): worker pid %d joined the session", me, session.peer_pid());
    if (channel.receive(5s).text() != "ready") throw std::runtime_error("worker: no ready");

    for (int i = 1; i <= clients; ++i) {
      // The client side. Its connect completes in the kernel's backlog before the front
      // accepts, so one thread can play both parts in turn.
      const seam::unique_fd client{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
      if (!client) fail("socket");
      set_io_timeout(client.get());
      if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) !=
          0) {
        fail("connect");
      }
      write_all(client.get(), "hello from client " + std::to_string(i) + "\n");

      // The front's job: accept, and hand the connected socket over without reading it.
      sockaddr_in peer{};
      socklen_t peer_length = sizeof peer;
      seam::unique_fd connection{::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer),
                                           &peer_length, SOCK_CLOEXEC)};
      if (!connection) fail("accept");
      say("front  (pid %d): accepted connection %d from %s, handing it to the worker", me, i,
          address_of(peer).c_str());
      const int fd = connection.get();
      const std::string note = "connection " + std::to_string(i);
      channel.send(std::as_bytes(std::span(note.data(), note.size())), {&fd, 1});
      connection.reset();  // the worker holds its own copy now; ours must not keep it open

      const std::string answer = read_until(client.get(), '\n');
      say("client %d        : got the answer: %s", i, answer.c_str());
    }
    // Closing is the whole shutdown protocol: the worker's receive and session both end.
    channel.close();
    session.close();
  } catch (...) {
    ::kill(worker, SIGKILL);  // no orphan if anything above failed
    ::waitpid(worker, &status, 0);
    throw;
  }
  if (::waitpid(worker, &status, 0) != worker) fail("waitpid");
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  say("front  (pid %d): worker pid %d exited with status %d", me, worker,
      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return clean ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string_view(argv[1]) == "--worker") return run_worker(argv[2]);
    const int clients = argc > 1 ? std::atoi(argv[1]) : 3;
    if (clients < 1 || clients > 100) {
      std::fprintf(stderr, "usage: %s [clients 1..100]\n", argv[0]);
      return 2;
    }
    return run_front(clients);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "socket_handoff (pid %d): %s\n", static_cast<int>(::getpid()), e.what());
    return 1;
  }
}

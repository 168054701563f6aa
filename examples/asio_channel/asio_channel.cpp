// Waits for seam::channel messages with Boost.Asio instead of a blocking receive.
//
// A channel exposes its socket through `native_handle()`. Asio watches it for readability
// (`stream_descriptor::async_wait` with `wait_read`), and when it fires the handler drains every
// queued message with `try_receive()` — one wake-up may bring several messages — then waits
// again. The channel keeps reading and framing; Asio only says "something is there".
//
// The parent sends a burst of pings and answers nothing; the child (forked) answers each ping
// with a pong. Both sides run an io_context with a watchdog timer so the demo cannot hang.
//
// The one rule: the stream_descriptor must not close the fd, which the channel owns: call
// `release()` on it before it is destroyed (`channel_watch` below does so on every path).

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "seam/channel.hpp"
#include "seam/session.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr int ping_count = 5;
constexpr auto watchdog = 5s;

void say(const char* who, const std::string& line) {
  std::printf("%-6s (pid %d): %s\n", who, static_cast<int>(::getpid()), line.c_str());
  std::fflush(stdout);  // both processes share stdout: keep lines in the order they happened
}

// An Asio view of a channel's socket that never closes it. The channel owns the fd, and a
// stream_descriptor closes whatever it still holds when destroyed — the channel would then close
// the same number again later, maybe someone else's fd by then. So release it on every path,
// exceptions included.
class channel_watch {
 public:
  channel_watch(asio::io_context& io, const seam::channel& channel)
      : m_descriptor(io, channel.native_handle()) {}
  channel_watch(const channel_watch&) = delete;
  channel_watch& operator=(const channel_watch&) = delete;
  ~channel_watch() { m_descriptor.release(); }

  template <class Handler>
  void async_wait_readable(Handler&& handler) {
    m_descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                            std::forward<Handler>(handler));
  }
  void cancel() { m_descriptor.cancel(); }

 private:
  asio::posix::stream_descriptor m_descriptor;
};

// Runs `on_message` for each message of `channel` as Asio reports it readable, until
// `on_message` returns false, the peer closes, or the watchdog fires. Returns whether it ended
// because `on_message` asked to.
bool serve(const char* who, seam::channel& channel,
           const std::function<bool(const seam::message&)>& on_message) {
  asio::io_context io;
  channel_watch readable(io, channel);
  asio::steady_timer timer(io, watchdog);
  bool finished = false;

  std::function<void()> wait_for_messages = [&] {
    readable.async_wait_readable([&](std::error_code ec) {
      if (ec) return;  // cancelled by the watchdog
      std::vector<seam::message> drained;
      try {
        // Non-blocking: returns every message already queued, then nothing.
        while (auto m = channel.try_receive()) drained.push_back(std::move(*m));
      } catch (const std::system_error& e) {
        // The peer went away, and `try_receive` closed the channel's fd already: the watch
        // must only be released now, which does not touch the fd.
        say(who, std::string("channel closed: ") + e.code().message());
        timer.cancel();
        return;
      }
      // Logged before handling, so that the log shows the wake-up before any answer it causes.
      std::string seen;
      for (const auto& m : drained)
        seen += (seen.empty() ? "\"" : ", \"") + std::string(m.text()) + "\"";
      say(who, "woke up, drained " + std::to_string(drained.size()) + " message(s): " + seen);
      for (const auto& m : drained) {
        if (!on_message(m)) {
          finished = true;
          break;
        }
      }
      if (finished) {
        timer.cancel();
        return;
      }
      wait_for_messages();
    });
  };
  wait_for_messages();
  timer.async_wait([&](std::error_code ec) {
    if (ec) return;  // cancelled: we finished first
    say(who, "no message for too long, giving up");
    readable.cancel();
  });
  io.run();
  return finished;
}

int run_child(const std::string& app) {
  auto session = seam::session::connect(app, 5s);
  auto channel = session.accept_channel(5s);
  int pongs = 0;
  const bool done = serve("child", channel, [&](const seam::message& m) {
    if (m.text() == "bye") return false;
    // "ping N" -> "pong N"
    channel.send("pong" + std::string(m.text().substr(4)));
    ++pongs;
    return true;
  });
  say("child", "answered " + std::to_string(pongs) + " pings, exiting");
  return done && pongs == ping_count ? 0 : 1;
}

int run_parent(seam::session_server& server, pid_t child) {
  auto session = server.accept(5s);
  auto channel = session.open_channel();
  // A burst, sent before the child even looks: its first wake-up should find several queued.
  say("parent", "sending " + std::to_string(ping_count) + " pings in a burst to child pid " +
                    std::to_string(session.peer_pid()));
  for (int i = 1; i <= ping_count; ++i) channel.send("ping " + std::to_string(i));
  int pongs = 0;
  serve("parent", channel, [&](const seam::message& m) {
    if (m.text().substr(0, 4) == "pong") ++pongs;
    return pongs < ping_count;
  });
  channel.send("bye");

  int status = 0;
  ::waitpid(child, &status, 0);
  const bool ok = pongs == ping_count && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  say("parent", "got " + std::to_string(pongs) + " pongs; child exited with status " +
                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  return ok ? 0 : 1;
}

}  // namespace

int main() {
  const std::string app = "asio-channel-" + std::to_string(::getpid());
  std::optional<seam::session_server> server;
  try {
    // Listen before forking, so the child's connect cannot come too early; fork before any
    // thread exists (each session starts one).
    server.emplace(app);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_channel: %s\n", e.what());
    return 1;
  }
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("fork");
    return 1;
  }
  try {
    if (child == 0) {
      server.reset();  // only this process's copy of the listening socket
      return run_child(app);
    }
    return run_parent(*server, child);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_channel (pid %d): %s\n", static_cast<int>(::getpid()), e.what());
    if (child > 0) {
      server.reset();  // a child still in its handshake sees the end at once
      ::waitpid(child, nullptr, 0);
    }
    return 1;
  }
}

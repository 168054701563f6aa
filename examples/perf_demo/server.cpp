// The perf demo's server: holds "files" of N bytes in 16 KiB parts and answers a client's
// request for a size with the whole file as one Cap'n Proto message, by handle over Seam (zero
// copy) or serialized through a Unix stream socket (copying), whichever channel it came on.
//
//   seam_perf_demo_server [--app NAME] [--ready-fd FD] [--accept-timeout SECONDS]
//
// Serves one session (one client), then exits 0 when the client goes. Each file is built once,
// when the client asks to prepare its size, so that a timed request costs only the request.
// `--ready-fd` (used by the seam_perf_demo driver): written "ready" and closed once the server
// listens, so that the client never races the server's start.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include "payload.hpp"
#include "seam/seam.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string app{perf_demo::default_app};
  int ready_fd = -1;
  std::chrono::seconds accept_timeout{60};
};

int usage() {
  std::fprintf(stderr,
               "usage: seam_perf_demo_server [--app NAME] [--ready-fd FD] [--accept-timeout S]\n");
  return 2;
}

// Built files, by size. Each builder's segments are sized to hold the whole file in one
// segment: the server knows the size, and one segment is what a reader checks fastest.
class file_store {
 public:
  explicit file_store(seam::session& session) : m_session(session) {}

  // Builds the file of `size` bytes unless it exists; empty string or what went wrong.
  std::string prepare(std::size_t size) {
    if (size == 0 || size > perf_demo::max_file_bytes) return "size out of range";
    if (m_files.count(size)) return {};
    const std::size_t words = perf_demo::file_message_words(size);
    seam::capnp::builder_options o;
    o.first_segment_words = words;
    o.max_segment_words = std::max(o.max_segment_words, words);
    const auto start = clock_type::now();
    auto builder = std::make_unique<seam::capnp::message_builder>(m_session, o);
    perf_demo::build_file(builder->initRoot<File>(), size);
    const std::chrono::duration<double> took = clock_type::now() - start;
    std::printf("server: built the %s file (%zu parts, %zu segment%s) in %.2f s\n",
                perf_demo::format_size(size).c_str(), perf_demo::part_count(size),
                builder->getSegmentsForOutput().size(),
                builder->getSegmentsForOutput().size() == 1 ? "" : "s", took.count());
    std::fflush(stdout);
    m_files.emplace(size, std::move(builder));
    return {};
  }

  seam::capnp::message_builder* find(std::size_t size) {
    auto it = m_files.find(size);
    return it == m_files.end() ? nullptr : it->second.get();
  }

 private:
  seam::session& m_session;
  std::map<std::size_t, std::unique_ptr<seam::capnp::message_builder>> m_files;
};

// Answers one request. The request's reader lives until the reply is out, so that its release
// (a message back to the client) follows the answer instead of delaying it.
void answer(seam::session& session, seam::capnp::channel& ch,
            seam::capnp::incoming_request& request, file_store& files, std::size_t& served) {
  const auto ask = request.message.root<FileRequest>();
  const std::size_t size = ask.getSize();
  if (ask.getPrepare()) {
    seam::capnp::message_builder ack(session);
    auto file = ack.initRoot<File>();
    if (auto error = files.prepare(size); error.empty()) {
      file.setSize(size);
    } else {
      file.setError(error);
    }
    ch.reply(request, ack);
    return;
  }
  if (size == 0) {  // a ping: the client's way to wake both sides before a timed round trip
    seam::capnp::message_builder pong(session);
    pong.initRoot<File>();
    ch.reply(request, pong);
    return;
  }
  if (auto* built = files.find(size)) {
    ch.reply(request, *built);  // the same message every time: built once, sent many times
    ++served;
    return;
  }
  seam::capnp::message_builder refusal(session);
  refusal.initRoot<File>().setError("size " + std::to_string(size) + " was not prepared");
  ch.reply(request, refusal);
}

// Serves `ch` until the client closes it. Each channel has a thread of its own, blocked in its
// receive: a ring channel's receive first polls the ring (see `channel_options::spin`), which
// a thread waiting in poll() on the channel's descriptor could not do.
void serve(seam::session& session, seam::capnp::channel& ch, file_store& files,
           std::size_t& served) {
  for (;;) {
    seam::capnp::incoming_request request;
    try {
      request = ch.receive_request(seam::capnp::channel::forever);
    } catch (const std::system_error& e) {
      // The client closing its end is how a run ends.
      if (e.code() == seam::errc::peer_closed) return;
      throw;
    }
    answer(session, ch, request, files, served);
  }
}

int run(const options& opt) {
  // The files (1.1 GiB at the default sizes) are built in the session's arena: 4 GiB of
  // address space, the most a client maps by default (`session_options::peer_arena_limit`).
  seam::server_options server_options;
  server_options.arena_capacity = std::size_t{4} << 30;
  seam::session_server server{opt.app, server_options};
  std::printf("server: listening as '%s' (pid %d)\n", opt.app.c_str(),
              static_cast<int>(::getpid()));
  std::fflush(stdout);
  if (opt.ready_fd >= 0) {
    [[maybe_unused]] ssize_t n = ::write(opt.ready_fd, "ready\n", 6);
    ::close(opt.ready_fd);
  }
  // Declared before the files: the builders' segments live in the session's arena, so they
  // must go first (lends still out when the session closes are released by the close).
  seam::session session = server.accept(opt.accept_timeout);
  file_store files(session);
  std::printf("server: client pid %d connected\n", static_cast<int>(session.peer_pid()));
  std::fflush(stdout);

  // The client opens the zero-copy channel first, then a channel carrying the stream socket of
  // the copying path.
  seam::capnp::channel zero_copy(session, session.accept_channel(30s));
  auto socket_carrier = session.accept_channel(30s);
  auto carried = socket_carrier.receive(30s);
  if (carried.fds.size() != 1) {
    std::fprintf(stderr, "server: expected one stream socket, got %zu fds\n", carried.fds.size());
    return 1;
  }
  auto copying = seam::capnp::channel::copying(std::move(carried.fds[0]));

  std::size_t served = 0, served_copying = 0;
  std::exception_ptr copy_error;
  std::thread copy_thread([&] {
    try {
      serve(session, copying, files, served_copying);
    } catch (...) {
      copy_error = std::current_exception();
    }
  });
  try {
    serve(session, zero_copy, files, served);
  } catch (const std::exception& e) {
    // The other thread may be blocked in its receive for good: leave without it (everything
    // the server holds is memory of this process, with no name to clean up).
    std::fprintf(stderr, "server: error: %s\n", e.what());
    std::fflush(nullptr);
    std::_Exit(1);
  }
  copy_thread.join();
  if (copy_error) std::rethrow_exception(copy_error);
  served += served_copying;
  std::printf("server: client gone after %zu timed-path responses; exiting\n", served);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return usage();
    if (arg == "--app") {
      opt.app = argv[++i];
    } else if (arg == "--ready-fd") {
      opt.ready_fd = std::atoi(argv[++i]);
    } else if (arg == "--accept-timeout") {
      opt.accept_timeout = std::chrono::seconds(std::atoi(argv[++i]));
    } else {
      return usage();
    }
  }
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "server: error: %s\n", e.what());
    return 1;
  }
}

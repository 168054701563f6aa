// A client process of the scale test: connects `count` sessions to `app`, says "connected",
// then for each session in order opens a channel, lends a number from its session arena and
// borrows the server's answer; says how many answers were right and how many times the
// dataset the server shared with every session is mapped here, and exits at "bye" on stdin.
// A program of its own (not a fork of the test): a child forked from a process with threads
// may not start threads under TSan.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "seam/seam.hpp"

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc < 3) return 64;
  const std::string app = argv[1];
  const std::size_t count = std::stoull(argv[2]);
  try {
    std::vector<seam::session> sessions;
    sessions.reserve(count);
    while (sessions.size() < count) {
      std::error_code ec;
      auto s = seam::session::connect(app, 30s, {}, ec);
      if (ec == seam::errc::busy) continue;  // the server's pending bound: try again
      if (ec) {
        std::printf("connect: %s\n", ec.message().c_str());
        return 1;
      }
      sessions.push_back(std::move(s));
    }
    std::printf("connected\n");
    std::fflush(stdout);
    std::size_t right = 0;
    for (std::size_t i = 0; i < count; ++i) {
      auto& s = sessions[i];
      seam::channel ch = s.open_channel();
      const auto h = s.lend(s.arena().make<std::uint64_t>(i)).as<std::byte>();
      ch.send(std::as_bytes(std::span("c", 1)), {}, {&h, 1});
      auto m = ch.receive(30s);
      if (m.handles.size() != 1) return 2;
      if (*s.borrow(m.handles[0].as<std::uint64_t>()) == 4242) ++right;
    }
    // Every session was shared the server's dataset: mapped here once all the same.
    std::size_t dataset_mappings = 0;
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
      dataset_mappings += line.find("memfd:scale-dataset") != std::string::npos;
    }
    std::printf("%zu %zu\n", right, dataset_mappings);
    std::fflush(stdout);
    std::string line;
    std::getline(std::cin, line);  // "bye"
    return 0;
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 3;
  }
}

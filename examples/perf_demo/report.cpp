#include "report.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>

#include "payload.hpp"

extern char** environ;

namespace perf_demo {
namespace {

std::string format_us(double us) {
  char text[32];
  if (us < 1e3) {
    std::snprintf(text, sizeof text, "%.1f us", us);
  } else if (us < 1e6) {
    std::snprintf(text, sizeof text, "%.2f ms", us / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.3f s", us / 1e6);
  }
  return text;
}

const result* find(const std::vector<result>& results, std::size_t size, std::string_view path) {
  for (const auto& r : results) {
    if (r.size_bytes == size && r.path == path) return &r;
  }
  return nullptr;
}

std::string cell(const result* r) {
  if (!r) return "-";
  return format_us(r->median_us) + " (" + format_us(r->min_us) + " .. " + format_us(r->max_us) +
         ", n=" + std::to_string(r->round_trips) + ")";
}

// The first executable called `name` on $PATH, or empty.
std::string find_on_path(const char* name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    std::string candidate(dirs.substr(0, colon));
    candidate += '/';
    candidate += name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return {};
}

// A gnuplot single-quoted string: a quote inside is written twice.
std::string gnuplot_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string plot_script(const std::string& file, const std::vector<result>& results) {
  std::string s;
  // pngcairo draws nicer text; the plain png terminal (libgd) is there even in gnuplot-nox
  // builds that lack cairo.
  s += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
       "  set terminal pngcairo size 1000,640 font ',11'\n"
       "} else {\n"
       "  set terminal png size 1000,640\n"
       "}\n";
  s += "set encoding utf8\n";
  s += "set output " + gnuplot_quote(file) + "\n";
  s += "set title \"Cap'n Proto request/response: a file of 16 KiB parts, median round trip "
       "(bars: min..max)\"\n";
  s += "set logscale xy\nset grid xtics ytics mytics\nset key top left box opaque\n";
  s += "set xlabel 'response size'\nset ylabel 'round trip (µs)'\n";
  s += "set format y '10^{%T}'\n";
  std::string xtics;
  std::vector<std::size_t> sizes;
  for (const auto& r : results) {
    if (std::find(sizes.begin(), sizes.end(), r.size_bytes) == sizes.end())
      sizes.push_back(r.size_bytes);
  }
  std::sort(sizes.begin(), sizes.end());
  for (std::size_t size : sizes) {
    if (!xtics.empty()) xtics += ", ";
    // Appended piece by piece: gcc 12 warns falsely (-Wrestrict) on `"'" + std::string`.
    xtics += '\'';
    xtics += format_size(size);
    xtics += "' ";
    xtics += std::to_string(size);
  }
  s += "set xtics (" + xtics + ")\n";
  if (!sizes.empty()) {
    s += "set xrange [" + std::to_string(static_cast<double>(sizes.front()) / 2) + ":" +
         std::to_string(static_cast<double>(sizes.back()) * 2) + "]\n";
  }
  for (const char* path : {"copy", "seam"}) {
    s += std::string("$") + path + " << EOD\n";
    for (std::size_t size : sizes) {
      if (const result* r = find(results, size, path)) {
        char line[128];
        std::snprintf(line, sizeof line, "%zu %.3f %.3f %.3f\n", size, r->median_us, r->min_us,
                      r->max_us);
        s += line;
      }
    }
    s += "EOD\n";
  }
  s += "plot $copy using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'copied through a Unix "
       "stream socket', \\\n"
       "     $seam using 1:2:3:4 with yerrorlines lw 2 pt 5 title 'zero copy through Seam'\n";
  return s;
}

}  // namespace

result summarize(std::size_t size_bytes, std::string path, std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  result r;
  r.size_bytes = size_bytes;
  r.path = std::move(path);
  r.round_trips = n;
  r.min_us = samples.front();
  r.max_us = samples.back();
  r.median_us = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  return r;
}

void print_table(const std::vector<result>& results) {
  std::vector<std::size_t> sizes;
  for (const auto& r : results) {
    if (std::find(sizes.begin(), sizes.end(), r.size_bytes) == sizes.end())
      sizes.push_back(r.size_bytes);
  }
  std::printf("\nRound trip, median (min .. max, n = round trips):\n");
  std::printf("%9s  %-40s  %-40s  %10s\n", "size", "copy RTT", "Seam RTT", "copy/Seam");
  for (std::size_t size : sizes) {
    const result* copy = find(results, size, "copy");
    const result* seam = find(results, size, "seam");
    char ratio[32] = "-";
    if (copy && seam && seam->median_us > 0) {
      const double r = copy->median_us / seam->median_us;
      std::snprintf(ratio, sizeof ratio, r < 10 ? "%.2fx" : "%.0fx", r);
    }
    std::printf("%9s  %-40s  %-40s  %10s\n", format_size(size).c_str(), cell(copy).c_str(),
                cell(seam).c_str(), ratio);
  }
  std::fflush(stdout);
}

void write_json(const std::string& file, const std::vector<result>& results) {
  std::FILE* f = std::fopen(file.c_str(), "w");
  if (!f) throw std::system_error(errno, std::system_category(), "open " + file);
  std::fprintf(f, "[\n");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    std::fprintf(f,
                 "  {\"size_bytes\": %zu, \"path\": \"%s\", \"rtt_median_us\": %.3f, "
                 "\"rtt_min_us\": %.3f, \"rtt_max_us\": %.3f, \"round_trips\": %zu}%s\n",
                 r.size_bytes, r.path.c_str(), r.median_us, r.min_us, r.max_us, r.round_trips,
                 i + 1 < results.size() ? "," : "");
  }
  std::fprintf(f, "]\n");
  const bool failed = std::ferror(f) != 0;
  if (std::fclose(f) != 0 || failed) {
    throw std::system_error(errno, std::system_category(), "write " + file);
  }
}

bool write_plot(const std::string& file, const std::vector<result>& results) {
  const std::string gnuplot = find_on_path("gnuplot");
  if (gnuplot.empty()) {
    std::printf("note: gnuplot is not installed (Debian: gnuplot-nox); no plot written\n");
    return true;
  }
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    std::perror("perf_demo: pipe");
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  char* argv[] = {const_cast<char*>(gnuplot.c_str()), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, gnuplot.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  if (spawned != 0) {
    ::close(in[1]);
    std::fprintf(stderr, "perf_demo: cannot start %s: %s\n", gnuplot.c_str(),
                 std::strerror(spawned));
    return false;
  }
  // gnuplot may exit before reading everything (a script error): that must not kill us.
  struct sigaction ignore {
  }, previous{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  const std::string script = plot_script(file, results);
  std::string_view left = script;
  while (!left.empty()) {
    const ssize_t n = ::write(in[1], left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(in[1]);
  ::sigaction(SIGPIPE, &previous, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !left.empty()) {
    std::fprintf(stderr, "perf_demo: gnuplot failed; no plot written to %s\n", file.c_str());
    return false;
  }
  return true;
}

}  // namespace perf_demo

#pragma once
// What the perf demo's client reports: a table on the terminal, a JSON file, a gnuplot PNG.

#include <cstddef>
#include <string>
#include <vector>

namespace perf_demo {

/// Round trips of one path at one size, in microseconds.
struct result {
  std::size_t size_bytes = 0;
  std::string path;  // "seam" or "copy"
  double median_us = 0, min_us = 0, max_us = 0;
  std::size_t round_trips = 0;
};

/// Summarizes `samples` (microseconds; not empty).
result summarize(std::size_t size_bytes, std::string path, std::vector<double> samples);

/// Prints one row per size: copy RTT, Seam RTT, ratio copy/Seam (medians, with min and max).
void print_table(const std::vector<result>& results);

/// Writes `results` as a JSON array of records. Throws `std::system_error` on I/O failure.
void write_json(const std::string& file, const std::vector<result>& results);

/// Plots RTT against size (log-log) for both paths into `file` with gnuplot. Returns false
/// (after printing why) if gnuplot failed; true if it worked or is not installed (a note says
/// the plot was skipped).
bool write_plot(const std::string& file, const std::vector<result>& results);

}  // namespace perf_demo

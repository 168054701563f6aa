#pragma once
// A small JSON writer for the `seam` tool's --json output: objects, arrays, strings (escaped),
// numbers, booleans. Commas are placed by the writer, so callers only open, write and close.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace seam::tool {

class json_writer {
 public:
  explicit json_writer(std::string& out) : m_out(out) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  /// The next value's key (inside an object).
  void key(std::string_view k) {
    separate();
    string(k);
    m_out += ':';
    m_after_key = true;
  }
  void value(std::string_view s) {
    separate();
    string(s);
  }
  void value(const char* s) { value(std::string_view(s)); }
  void value(std::uint64_t n) {
    separate();
    m_out += std::to_string(n);
  }
  void value(std::int64_t n) {
    separate();
    m_out += std::to_string(n);
  }
  void value(int n) { value(static_cast<std::int64_t>(n)); }
  void value(bool b) {
    separate();
    m_out += b ? "true" : "false";
  }
  template <class T>
  void member(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

 private:
  void open(char c) {
    separate();
    m_out += c;
    m_first.push_back(true);
  }
  void close(char c) {
    m_first.pop_back();
    m_out += c;
  }
  void separate() {
    if (m_after_key) {
      m_after_key = false;
      return;
    }
    if (!m_first.empty()) {
      if (!m_first.back()) m_out += ',';
      m_first.back() = false;
    }
  }
  void string(std::string_view s) {
    m_out += '"';
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        m_out += '\\';
        m_out += c;
      } else if (u < 0x20 || u >= 0x80) {  // bytes >= 0x80 as Latin-1: valid JSON always
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
        m_out += escaped;
      } else {
        m_out += c;
      }
    }
    m_out += '"';
  }

  std::string& m_out;
  std::vector<bool> m_first;
  bool m_after_key = false;
};

}  // namespace seam::tool

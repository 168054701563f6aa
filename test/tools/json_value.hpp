#pragma once
// A minimal JSON reader for the tool's tests: parses the `seam --json` output into a tree of
// values, so that tests check fields by name instead of matching text. Throws on bad input.

#include <cctype>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace seam::test {

struct json_value {
  enum class kind { null, boolean, number, string, array, object } type = kind::null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<json_value> array;
  std::map<std::string, json_value> object;

  const json_value& operator[](const std::string& key) const {
    const auto it = object.find(key);
    if (type != kind::object || it == object.end()) throw std::runtime_error("no key " + key);
    return it->second;
  }
  bool has(const std::string& key) const { return object.count(key) != 0; }
  std::int64_t integer() const { return static_cast<std::int64_t>(number); }
};

class json_parser {
 public:
  static json_value parse(const std::string& text) {
    json_parser p(text);
    json_value v = p.value();
    p.skip_space();
    if (p.m_at != text.size()) p.fail("trailing bytes");
    return v;
  }

 private:
  explicit json_parser(const std::string& text) : m_text(text) {}
  [[noreturn]] void fail(const char* what) const {
    throw std::runtime_error(std::string("json: ") + what + " at " + std::to_string(m_at));
  }
  void skip_space() {
    while (m_at < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_at]))) ++m_at;
  }
  char next() {
    skip_space();
    if (m_at >= m_text.size()) fail("end of input");
    return m_text[m_at];
  }
  void expect(char c) {
    if (next() != c) fail("unexpected character");
    ++m_at;
  }
  json_value value() {
    json_value v;
    const char c = next();
    if (c == '{') {
      v.type = json_value::kind::object;
      ++m_at;
      if (next() == '}') return ++m_at, v;
      for (;;) {
        const std::string key = string();
        expect(':');
        v.object[key] = value();
        if (next() == ',') {
          ++m_at;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.type = json_value::kind::array;
      ++m_at;
      if (next() == ']') return ++m_at, v;
      for (;;) {
        v.array.push_back(value());
        if (next() == ',') {
          ++m_at;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.type = json_value::kind::string;
      v.string = string();
      return v;
    }
    if (m_text.compare(m_at, 4, "true") == 0 || m_text.compare(m_at, 5, "false") == 0) {
      v.type = json_value::kind::boolean;
      v.boolean = m_text[m_at] == 't';
      m_at += v.boolean ? 4 : 5;
      return v;
    }
    if (m_text.compare(m_at, 4, "null") == 0) {
      m_at += 4;
      return v;
    }
    std::size_t used = 0;
    v.number = std::stod(m_text.substr(m_at), &used);
    v.type = json_value::kind::number;
    m_at += used;
    return v;
  }
  std::string string() {
    expect('"');
    std::string s;
    while (m_at < m_text.size() && m_text[m_at] != '"') {
      char c = m_text[m_at++];
      if (c == '\\') {
        if (m_at >= m_text.size()) fail("bad escape");
        c = m_text[m_at++];
        if (c == 'u') {
          if (m_at + 4 > m_text.size()) fail("bad escape");
          c = static_cast<char>(std::stoi(m_text.substr(m_at, 4), nullptr, 16));
          m_at += 4;
        }
      }
      s += c;
    }
    expect('"');
    return s;
  }

  const std::string& m_text;
  std::size_t m_at = 0;
};

}  // namespace seam::test

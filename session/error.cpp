#include "seam/session/error.hpp"

#include <string>

namespace seam {
namespace {

class session_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "seam.session"; }

  std::string message(int value) const override {
    switch (static_cast<session_errc>(value)) {
      case errc::no_such_server:
        return "no seam session server listens under that name";
      case errc::server_exists:
        return "a seam session server with that name is already listening";
      case errc::refused:
        return "the session server refused this client";
      case errc::version_mismatch:
        return "the peer speaks another seam protocol version";
      case errc::timed_out:
        return "timed out";
      case errc::peer_closed:
        return "the peer closed the connection or died";
      case errc::protocol_error:
        return "the peer sent an invalid message";
      case errc::message_too_large:
        return "message exceeds the size limit";
      case errc::too_many_fds:
        return "message carries more file descriptors than allowed";
      case errc::unknown_arena:
        return "handle names an arena the peer never shared";
      case errc::lend_limit:
        return "too many outstanding lends on this session";
      case errc::would_block:
        return "operation would block";
      case errc::not_published:
        return "the peer publishes nothing under that name to this session";
    }
    return "unknown seam session error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& session_category() noexcept {
  static const session_error_category category;
  return category;
}

}  // namespace seam

#include "seam/arena/error.hpp"

#include <string>

namespace seam {
namespace {

class arena_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "seam.arena"; }

  std::string message(int value) const override {
    switch (static_cast<arena_errc>(value)) {
      case errc::arena_full:
        return "arena is full";
      case errc::forked_child:
        return "this process is a fork of the arena's owner: only the process that created an "
               "arena may allocate or free in it";
      case errc::no_current_arena:
        return "no current arena on this thread: open a seam::arena_scope first";
      case errc::not_in_arena:
        return "pointer does not lie inside the arena";
      case errc::null_handle:
        return "handle is null";
      case errc::foreign_handle:
        return "handle names another arena";
      case errc::handle_out_of_range:
        return "handle reaches outside the arena";
      case errc::handle_misaligned:
        return "handle is misaligned for its type";
      case errc::bad_arena:
        return "not a sealed Seam arena of a known version";
      case errc::no_root:
        return "arena has no root object of this type";
      case errc::name_exists:
        return "an object with that name already exists in the arena";
      case errc::type_mismatch:
        return "the named object was made as another type";
      case errc::bad_name:
        return "a name must be 1 to 255 bytes long";
      case errc::corrupt_arena:
        return "the arena's bookkeeping holds invalid bytes";
      case errc::strict_isolation:
        return "the arena was created with seam::isolation::strict: no process but its creator "
               "can write it";
    }
    return "unknown seam arena error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& arena_category() noexcept {
  static const arena_error_category category;
  return category;
}

}  // namespace seam

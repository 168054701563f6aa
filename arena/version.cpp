#include "seam/version.hpp"

namespace seam {

const char* version() noexcept { return SEAM_VERSION_STRING; }

}  // namespace seam

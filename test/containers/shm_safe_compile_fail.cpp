// Compiled by ctest (containers.shm_safe_compile.*) with one SEAM_CASE_* defined. Every case
// but CONTROL must fail to compile with seam::shm_safe's message.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "seam/seam.hpp"

struct handle_to_private_memory {
  int fd;  // meaningful only in the process that opened it
};
template <>
struct seam::shm_safe<handle_to_private_memory> : std::false_type {};

struct order {
  seam::string customer;
  seam::vector<std::uint32_t> items;
};

int main() {
  seam::arena a;
  seam::arena_scope scope{a};
#if defined(SEAM_CASE_CONTROL)
  seam::vector<seam::string> strings;
  seam::map<seam::string, seam::vector<order>> orders;
  auto* o = a.make<order>();
  auto* p = a.make<std::pair<int, seam::ptr<order>>>(1, o);
  a.destroy(p);
  a.destroy(o);
#elif defined(SEAM_CASE_VECTOR_OF_STD_STRING)
  seam::vector<std::string> strings;
#elif defined(SEAM_CASE_MAKE_STD_VECTOR)
  a.make<std::vector<int>>();
#elif defined(SEAM_CASE_MAP_OF_SHARED_PTR)
  seam::map<seam::string, std::shared_ptr<order>> orders;
#elif defined(SEAM_CASE_VECTOR_OF_RAW_POINTERS)
  seam::vector<order*> orders;
#elif defined(SEAM_CASE_MAKE_PAIR_WITH_STRING_VIEW)
  a.make<std::pair<int, std::string_view>>();
#elif defined(SEAM_CASE_USER_SPECIALISATION)
  seam::vector<handle_to_private_memory> handles;
#else
#error "define one SEAM_CASE_*"
#endif
}

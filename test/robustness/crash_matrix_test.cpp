// The crash matrix: for each role a process plays (server, client, lender, borrower) and each
// point of the protocol (handshake, fd in flight, lends outstanding, Cap'n Proto send, 1 GiB
// reader walk, holding a seam::mutex), a victim process (crash_peer, or a forked child of the
// arena's owner for the lock) reaches that point, says so on a pipe, and is killed with SIGKILL
// on that line. The test process is the survivor. After each kill it must:
//  - notice: its session closes within 5 s (or its accept/connect/receive/send returns an
//    error well before its own timeout) — every wait here has a timeout;
//  - leak nothing: its lent_count and its arenas' allocated bytes are back to their baseline,
//    and so are its open fds and memfd mappings (a view kept past its session would pin the
//    dead peer's memory);
//  - keep working: a NEW peer connects and completes a round trip (lend/borrow one way,
//    zero-copy Cap'n Proto the other).
// After the whole matrix the system's Shmem is back to where it was (see shmem_balance).
//
// Roles and who survives: for "server" the victim is the session server and the test is its
// client; for "client", "lender" and "borrower" the test is the server and the victim a client
// that connects, lends, or borrows. Lender and borrower at the handshake do not apply: nothing
// can be lent or borrowed before the handshake has completed (the client cases cover a peer
// that dies in the handshake).
//
// Every case that opens a channel runs twice: over the socket transport and over the ring.
//
// The cases themselves are in crash_cases_*.cpp; the table of them is at the end of this file.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "robustness/crash_cases.hpp"

namespace {

using namespace seam::test::crash_cases;

// ---- the system's shared memory, before and after the matrix --------------------------------

constexpr std::size_t case_count = 25;  // the size of g_cases, below

// Every victim's arena is a memfd: the kernel frees it when the last fd and mapping go, which
// must happen even though the victim died with SIGKILL and the survivor read from it. A
// survivor that kept a dead peer's view (or a session) would keep up to a GiB in Shmem.
//
// The machine is shared: other engineers' benchmarks and demos create and free arenas and
// /dev/shm files (a GiB at a time) while this runs, so Shmem moves without us. Hence:
//  - a tolerance of 64 MiB: far below the 1 GiB one leaked walk message would leave (small
//    leaks are caught exactly, per case, by the fd and memfd-mapping counts);
//  - growth that other living processes visibly account for (their RssShmem, and /dev/shm
//    files) is allowed too: what is left is memory nobody maps, as a leak of ours would be;
//  - only growth is checked: others may free memory meanwhile.
// Checked when the whole matrix ran in this process (ctest runs it so, serially, as
// CrashMatrixTest.WholeMatrixShmemBalance): a single case that ctest starts next to other
// tests (ctest -j) would see their gigabytes come and go.
class shmem_balance : public ::testing::Environment {
 public:
  void SetUp() override { m_before = seam::test::take_shmem_snapshot(); }
  void TearDown() override {
    const auto* unit = ::testing::UnitTest::GetInstance();
    if (unit->test_to_run_count() < unit->total_test_count()) {
      std::printf("Shmem balance not checked: only part of the matrix ran\n");
      return;
    }
    constexpr std::size_t tolerance = std::size_t{64} << 20;
    seam::test::shmem_snapshot after;
    std::size_t allowed = 0;
    // Every process of the matrix was reaped; the kernel frees their pages as it tears them
    // down, which there is no event for: poll the counter, with a deadline.
    const bool balanced = eventually([&] {
      after = seam::test::take_shmem_snapshot();
      const std::size_t others = after.others_mapped + after.dev_shm;
      const std::size_t others_before = m_before.others_mapped + m_before.dev_shm;
      allowed = m_before.system + tolerance + (others > others_before ? others - others_before : 0);
      return after.system <= allowed;
    });
    EXPECT_TRUE(balanced) << "Shmem before " << (m_before.system >> 20) << " MiB, after "
                          << (after.system >> 20) << " MiB, allowed " << (allowed >> 20)
                          << " MiB; other processes mapping shared memory:\n"
                          << after.holders;
    std::printf("Shmem before the matrix %zu MiB, after %zu MiB (allowed up to %zu MiB)\n",
                m_before.system >> 20, after.system >> 20, allowed >> 20);
  }

 private:
  seam::test::shmem_snapshot m_before;
};
[[maybe_unused]] auto* const g_shmem = ::testing::AddGlobalTestEnvironment(new shmem_balance);

// ---- the matrix ------------------------------------------------------------------------------

struct crash_case {
  const char* name;  // <role>_<point>
  void (*run)();
};

const crash_case g_cases[] = {
    {"server_handshake", server_at_handshake},
    {"client_handshake_no_hello", client_at_handshake_no_hello},
    {"client_handshake_hello_unanswered", client_at_handshake_hello_unanswered},
    // lender_handshake, borrower_handshake: do not apply (see the top of the file).
    {"server_fd_in_flight", server_with_fd_in_flight},
    {"client_fd_in_flight", client_with_fd_in_flight},
    {"lender_fd_in_flight", lender_with_fd_in_flight},
    {"borrower_fd_in_flight", borrower_with_fd_in_flight},
    {"server_lends_outstanding", server_with_lends_outstanding},
    {"client_lends_outstanding", client_with_lends_outstanding},
    {"lender_lends_outstanding", lender_with_lends_outstanding},
    {"borrower_lends_outstanding", borrower_with_lends_outstanding},
    {"server_capnp_send", server_during_capnp_send},
    {"client_capnp_send", client_during_capnp_send},
    {"lender_capnp_send", lender_during_capnp_send},
    {"borrower_capnp_send", borrower_during_capnp_send},
    {"server_reader_walk", server_while_reader_walks},
    {"client_reader_walk", client_while_reader_walks},
    {"lender_reader_walk", lender_while_reader_walks},
    {"borrower_reader_walk", borrower_while_reader_walks},
    {"writer_holding_lock", writer_holding_lock},
    {"writer_between_alloc_and_insert", writer_between_alloc_and_insert},
    {"writer_remote_frees_pending", writer_with_remote_frees_pending},
    {"locker_holding_lock", locker_holding_lock},
    {"reader_holding_version", reader_holding_a_version},
    {"publisher_publishing", publisher_while_publishing},
};

static_assert(std::size(g_cases) == case_count);

// One run of a case: over the socket transport, or over the ring (every channel the test and
// its victims open). The handshake cases open no channel: they run once.
struct crash_run {
  crash_case what;
  seam::transport transport;
};

std::vector<crash_run> every_run() {
  std::vector<crash_run> runs;
  for (const crash_case& c : g_cases) {
    runs.push_back({c, seam::transport::socket});
    if (std::string_view(c.name).find("handshake") == std::string_view::npos) {
      runs.push_back({c, seam::transport::ring});
    }
  }
  return runs;
}

std::string name_of(const crash_run& r) {
  std::string name = r.what.name;
  if (r.transport == seam::transport::ring) name += "_ring";
  return name;
}

// Names the run in gtest's output (and in ctest's test names, which would otherwise hold
// the case's address).
[[maybe_unused]] void PrintTo(const crash_run& r, std::ostream* os) { *os << name_of(r); }

class CrashMatrixTest : public ::testing::TestWithParam<crash_run> {};

TEST_P(CrashMatrixTest, SurvivorNoticesLeaksNothingAndServesANewPeer) {
  SCOPED_TRACE(name_of(GetParam()));
  // The victims this case spawns inherit the choice.
  ASSERT_EQ(::setenv(seam::test::crash::transport_variable,
                     GetParam().transport == seam::transport::ring ? "ring" : "socket", 1),
            0);
  ASSERT_EQ(seam::test::crash::transport(), GetParam().transport);
  const held_resources before;
  GetParam().what.run();
  expect_back_to(before, "at the end of the case");
}

INSTANTIATE_TEST_SUITE_P(Matrix, CrashMatrixTest, ::testing::ValuesIn(every_run()),
                         [](const ::testing::TestParamInfo<crash_run>& info) {
                           return name_of(info.param);
                         });

}  // namespace

// Read-only must mean read-only: a hostile reader of the owner's own (non-root) uid, holding
// only the fd that share() gave it, tries every way to write the owner's arena, against each
// isolation mode. And what a strict arena does with freed memory.

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "seam/arena/arena.hpp"
#include "support/process.hpp"

namespace {

using seam::test::fork_run;
using seam::test::read_line;

constexpr std::size_t MiB = std::size_t{1} << 20;
constexpr char owner_bytes[] = "the owner's bytes";

// Becomes an ordinary unprivileged process: uid and gid 65534 ("nobody") if we are root (CI
// runs tests as root, and root could write anything anyway), and dumpable like any process
// that never changed ids. Returns false if that failed.
bool become_unprivileged() {
  if (::geteuid() == 0) {
    const uid_t nobody = 65534;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(nobody, nobody, nobody) != 0 ||
        ::setresuid(nobody, nobody, nobody) != 0) {
      return false;
    }
  }
  return ::prctl(PR_SET_DUMPABLE, 1) == 0 && ::geteuid() != 0;
}

void send_fd(int socket, int fd, std::uint64_t offset) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{&offset, sizeof offset};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (::sendmsg(socket, &msg, 0) != static_cast<ssize_t>(sizeof offset)) ::_exit(80);
}

int receive_fd(int socket, std::uint64_t& offset) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{&offset, sizeof offset};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC) != static_cast<ssize_t>(sizeof offset)) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

std::string outcome(bool ok) {
  if (ok) return "ok";
  switch (errno) {
    case EPERM:
      return "EPERM";
    case EACCES:
      return "EACCES";
    case EBUSY:
      return "EBUSY";
    default:
      return "errno" + std::to_string(errno);
  }
}

// The hostile reader: every escalation in turn, each reported as "ok" or the errno it got.
std::string try_to_write(int fd, std::uint64_t offset) {
  std::string report;
  auto note = [&](const char* what, bool ok) {
    report += std::string(report.empty() ? "" : " ") + what + "=" + outcome(ok);
  };
  const auto at = static_cast<off_t>(offset);
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, at);
  note("map_given_fd_writable", p != MAP_FAILED);
  p = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, at);
  note("mprotect_given_fd", p != MAP_FAILED && ::mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0);
  note("fchmod_0600", ::fchmod(fd, 0600) == 0);
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const int rw = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  note("reopen_rdwr", rw >= 0);
  if (rw < 0) return report;
  p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw, at);
  note("map_writable", p != MAP_FAILED);
  if (p != MAP_FAILED) std::memcpy(p, "W", 1);
  p = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, rw, at);
  const bool protected_write = p != MAP_FAILED && ::mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0;
  note("mprotect_writable", protected_write);
  if (protected_write) std::memcpy(static_cast<char*>(p) + 1, "M", 1);
  note("pwrite", ::pwrite(rw, "P", 1, at + 2) == 1);
  note("punch_hole",
       ::fallocate(rw, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at + 4096, 4096) == 0);
  note("ftruncate", ::ftruncate(rw, 4096) == 0);
  return report;
}

struct escalation {
  std::string reader;  // what each attempt of the reader got
  std::string owner;   // what the owner found in its block afterwards
};

escalation escalate(seam::isolation mode) {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) return {};
  seam::unique_fd owner_end(sockets[0]), reader_end(sockets[1]);
  seam::test::pipe_pair owner_out, reader_out;
  // Both drop to the same non-root uid before the owner creates its arena.
  auto reader = fork_run([&] {
    if (!become_unprivileged()) return 2;
    std::uint64_t offset = 0;
    const int fd = receive_fd(reader_end.get(), offset);
    const std::string report = (fd < 0 ? std::string("no fd") : try_to_write(fd, offset)) + "\n";
    seam::test::write_all(reader_out.write_end.get(), report);
    char done = 1;
    return ::send(reader_end.get(), &done, 1, 0) == 1 ? 0 : 3;
  });
  auto owner = fork_run([&] {
    if (!become_unprivileged()) return 2;
    seam::arena a({.capacity = 64 * MiB, .name = "isolation", .isolation = mode});
    auto* block = static_cast<char*>(a.allocate(2 * 4096, 4096));
    std::memset(block, 0, 2 * 4096);
    std::memcpy(block, owner_bytes, sizeof owner_bytes);
    std::memcpy(block + 4096, owner_bytes, sizeof owner_bytes);
    seam::unique_fd fd = a.share();
    send_fd(owner_end.get(), fd.get(),
            static_cast<std::uint64_t>(block - reinterpret_cast<char*>(a.base())));
    fd.reset();
    char done;
    if (::recv(owner_end.get(), &done, 1, 0) != 1) return 3;
    std::string found =
        std::memcmp(block, owner_bytes, sizeof owner_bytes) == 0 ? "intact" : "overwritten";
    if (std::memcmp(block + 4096, owner_bytes, sizeof owner_bytes) != 0) found += ", punched";
    // The owner still writes through its own mapping.
    block[0] = 'O';
    seam::test::write_all(owner_out.write_end.get(), found + "\n");
    return 0;
  });
  escalation result;
  result.reader = read_line(reader_out.read_end.get());
  result.owner = read_line(owner_out.read_end.get());
  EXPECT_EQ(reader.wait(), 0);
  EXPECT_EQ(owner.wait(), 0);
  return result;
}

TEST(IsolationTest, StrictArenaCannotBeWrittenByASameUidReader) {
  const escalation e = escalate(seam::isolation::strict);
  // fchmod and the reopen succeed (the reader's uid owns the memfd), but the kernel refuses
  // every way to write through the reopened description.
  EXPECT_EQ(e.reader,
            "map_given_fd_writable=EACCES mprotect_given_fd=EACCES fchmod_0600=ok "
            "reopen_rdwr=ok map_writable=EPERM mprotect_writable=EACCES pwrite=EPERM "
            "punch_hole=EPERM ftruncate=EPERM");
  EXPECT_EQ(e.owner, "intact");
}

TEST(IsolationTest, TrustSameUidArenaCanBeWrittenByASameUidReader) {
  // What the README warns of: the file mode alone stops only other uids.
  const escalation e = escalate(seam::isolation::trust_same_uid);
  EXPECT_EQ(e.reader,
            "map_given_fd_writable=EACCES mprotect_given_fd=EACCES fchmod_0600=ok "
            "reopen_rdwr=ok map_writable=ok mprotect_writable=ok pwrite=ok punch_hole=ok "
            "ftruncate=EPERM");
  EXPECT_EQ(e.owner, "overwritten, punched");
}

TEST(IsolationTest, DefaultIsStrict) {
  seam::arena a({.capacity = 64 * MiB, .name = "default"});
  EXPECT_EQ(a.isolation(), seam::isolation::strict);
  EXPECT_FALSE(a.stats().returns_memory);
  seam::arena trusting({.capacity = 64 * MiB, .isolation = seam::isolation::trust_same_uid});
  EXPECT_TRUE(trusting.stats().returns_memory);
}

// A strict arena's memfd refuses to punch holes: freed memory stays resident (and says so)
// until the arena is destroyed, and is reused.
TEST(IsolationTest, StrictArenaKeepsFreedMemoryResidentAndReusesIt) {
  seam::arena a({.capacity = 1024 * MiB, .name = "strict-purge"});
  const std::size_t before = a.stats().resident;
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) {
    void* p = a.allocate(MiB / 2);
    std::memset(p, 0xab, MiB / 2);
    blocks.push_back(p);
  }
  void* huge = a.allocate(300 * MiB);  // over the huge blocks' dirty limit once freed
  std::memset(huge, 0xcd, 300 * MiB);
  for (void* p : blocks) a.deallocate(p, MiB / 2);
  a.deallocate(huge, 300 * MiB);
  a.purge();
  const auto s = a.stats();
  EXPECT_EQ(s.allocated, 0u);
  EXPECT_FALSE(s.returns_memory);
  EXPECT_GE(s.resident, before + 300 * MiB) << "pages went back to the kernel: punched?";
  // Reused without growing, and zeroed where asked.
  auto* again = static_cast<unsigned char*>(a.allocate_zeroed(300 * MiB));
  for (std::size_t i = 0; i < 300 * MiB; i += 4096) ASSERT_EQ(again[i], 0) << i;
  EXPECT_LT(a.stats().resident, s.resident + 8 * MiB);
  a.deallocate(again, 300 * MiB);
}

// The huge region's free top goes back to jemalloc (which is told fresh ranges are zero) by
// zeroing instead of punching: small blocks can use the space a freed huge block held.
TEST(IsolationTest, StrictArenaGivesAFreedHugeRangeBackToSmallBlocksZeroed) {
  seam::arena a({.capacity = 64 * MiB, .name = "strict-top"});
  void* huge = a.allocate(48 * MiB);
  std::memset(huge, 0xee, 48 * MiB);
  a.deallocate(huge, 48 * MiB);
  std::vector<unsigned char*> blocks;
  for (int i = 0; i < 48 * 16; ++i) {  // 48 MiB of 64 KiB blocks: needs the huge range
    auto* p = static_cast<unsigned char*>(a.allocate_zeroed(64 * 1024));
    for (std::size_t j = 0; j < 64 * 1024; j += 512) ASSERT_EQ(p[j], 0) << i;
    blocks.push_back(p);
  }
  for (auto* p : blocks) a.deallocate(p, 64 * 1024);
}

}  // namespace

// Writes the seed corpus of every fuzzer: a few small inputs each, valid ones (so the fuzzers
// start past the checks, deep in what follows them) and invalid ones (each just across one
// check). The encodings mirror what each fuzzer reads off its input; the formats themselves
// come from the library's headers, so a changed format shows up here as a compile error or as
// seeds that no longer pass.
//
// Usage: make_fuzz_corpus <corpus-dir>   (writes <corpus-dir>/<fuzzer>/<seed>)

#include <capnp/message.h>
#include <capnp/schema.capnp.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "arena/detail/directory.hpp"
#include "arena/detail/layout.hpp"
#include "capnp/detail/segments.hpp"
#include "channel/detail/ring.hpp"
#include "seam/arena/type_fingerprint.hpp"
#include "seam/session/wire.hpp"
#include "session/detail/protocol.hpp"

namespace {

namespace fs = std::filesystem;
using seam::detail::frame_kind;

// An input under construction: values appended in the fuzzer's reading order.
struct bytes {
  std::vector<std::uint8_t> data;
  template <class T>
  bytes& put(const T& value) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
    data.insert(data.end(), p, p + sizeof value);
    return *this;
  }
  bytes& append(const void* p, std::size_t size) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    data.insert(data.end(), b, b + size);
    return *this;
  }
};

void write(const fs::path& dir, const std::string& name, const bytes& b) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data.data()),
            static_cast<std::streamsize>(b.data.size()));
}

// --- frame_fuzzer: fd count, then the packet ---------------------------------------------------

bytes packet(std::uint8_t fds, frame_kind kind, std::uint32_t handles, std::uint32_t size,
             std::uint32_t header_fds) {
  bytes b;
  b.put(fds).put(
      seam::detail::frame_header{static_cast<std::uint32_t>(kind), handles, size, header_fds});
  return b;
}

void frame_seeds(const fs::path& dir) {
  const seam::detail::hello_body hello{seam::detail::hello_magic, seam::detail::protocol_version,
                                       4242, 0x1122334455667788};
  write(dir, "hello", packet(1, frame_kind::hello, 0, sizeof hello, 1).put(hello));
  write(dir, "welcome", packet(1, frame_kind::welcome, 0, sizeof hello, 1).put(hello));
  auto newer = hello;
  newer.version = seam::detail::protocol_version + 1;
  write(dir, "hello_newer_version", packet(1, frame_kind::hello, 0, sizeof newer, 1).put(newer));
  auto alien = hello;
  alien.magic = 0;
  write(dir, "hello_bad_magic", packet(1, frame_kind::hello, 0, sizeof alien, 1).put(alien));
  write(dir, "hello_short_body", packet(1, frame_kind::hello, 0, 8, 1).put(hello.magic));
  write(dir, "channel", packet(1, frame_kind::channel, 0, 1, 1).put(std::uint8_t{1}));
  write(dir, "channel_without_setup", packet(1, frame_kind::channel, 0, 0, 1));
  write(dir, "share_without_fd", packet(0, frame_kind::share, 0, 0, 0));
  write(dir, "share_writable", packet(1, frame_kind::share_writable, 0, 0, 1));
  const seam::handle<std::byte> lent[2] = {{7, 4096}, {7, 8192}};
  write(dir, "release", packet(0, frame_kind::release, 2, 0, 0).put(lent));
  write(dir, "release_empty", packet(0, frame_kind::release, 0, 0, 0));
  write(dir, "subscribe",
        packet(0, frame_kind::subscribe, 2, 4, 0).put(lent).put(std::uint32_t{8}));
  write(dir, "subscribe_no_slots",
        packet(0, frame_kind::subscribe, 2, 4, 0).put(lent).put(std::uint32_t{0}));
  write(dir, "subscribed",
        packet(0, frame_kind::subscribed, 2, 4, 0).put(lent).put(std::uint32_t{0}));
  write(dir, "unsubscribe", packet(0, frame_kind::unsubscribe, 2, 0, 0).put(lent));
  write(dir, "data", packet(2, frame_kind::data, 1, 5, 2).put(lent[0]).append("hello", 5));
  write(dir, "refuse", packet(0, frame_kind::refuse, 0, 4, 0).put(std::uint32_t{3}));
  write(dir, "bytes_longer_than_packet",
        packet(0, frame_kind::data, 0, 10, 0).put(std::uint32_t{1}));
  write(dir, "fds_disagree", packet(2, frame_kind::channel, 0, 0, 3));
  write(dir, "short_header", bytes{}.put(std::uint8_t{0}).put(std::uint64_t{0x53450001}));
}

// --- handle_fuzzer: records of (mode, alignment, id, offset, size) -----------------------------
// mode bits 0-1: id (0 the view's, 1 one bit flipped, 2 raw, 3 zero); bits 2-3: offset (0 raw,
// 1 an object + delta, 2 end of mapping - delta, 3 header + delta); bits 4-5: size (0 small,
// 1 raw, 2 to the end of the mapping + delta, 3 an object's size). alignment byte: bits 0-4
// log2, bits 5-7 the type of the typed paths.

std::uint8_t mode(unsigned id, unsigned offset, unsigned size) {
  return static_cast<std::uint8_t>(id | offset << 2 | size << 4);
}

void handle_seeds(const fs::path& dir) {
  bytes objects;
  for (std::uint8_t i = 0; i < 7; ++i) {
    // Each object exactly, as the matching type.
    objects.put(mode(0, 1, 3)).put(static_cast<std::uint8_t>(3 | (i % 5) << 5));
    objects.put(i).put(std::int16_t{0}).put(i);
  }
  write(dir, "objects", objects);
  write(dir, "object_one_past",
        bytes{}
            .put(mode(0, 1, 3))
            .put(std::uint8_t{0})
            .put(std::uint8_t{1})
            .put(std::int16_t{1})
            .put(std::uint8_t{1}));
  write(dir, "end_of_mapping",
        bytes{}
            .put(mode(0, 2, 2))
            .put(std::uint8_t{0})
            .put(std::int16_t{16})
            .put(std::int8_t{0})
            .put(mode(0, 2, 2))
            .put(std::uint8_t{0})
            .put(std::int16_t{16})
            .put(std::int8_t{1}));
  write(dir, "wrapping_size",
        bytes{}
            .put(mode(0, 3, 1))
            .put(std::uint8_t{0})
            .put(std::int16_t{0})
            .put(~std::uint64_t{0} - 4000));
  write(dir, "in_header",
        bytes{}.put(mode(0, 3, 0)).put(std::uint8_t{0}).put(std::int16_t{-8}).put(std::uint8_t{8}));
  write(dir, "foreign_id",
        bytes{}
            .put(mode(1, 1, 0))
            .put(std::uint8_t{0})
            .put(std::uint8_t{5})
            .put(std::uint8_t{2})
            .put(std::int16_t{0})
            .put(std::uint8_t{8}));
  write(dir, "null_handle",
        bytes{}.put(mode(0, 0, 0)).put(std::uint8_t{0}).put(std::uint64_t{0}).put(std::uint8_t{1}));
  write(dir, "misaligned_page",
        bytes{}
            .put(mode(0, 1, 0))
            .put(static_cast<std::uint8_t>(12 | 4 << 5))
            .put(std::uint8_t{4})
            .put(std::int16_t{8})
            .put(std::uint8_t{16}));
}

// --- segments_fuzzer: limits, arena size, table, refs, words -----------------------------------

using seam::capnp::detail::segment_ref;
using seam::capnp::detail::table_header;

struct table_seed {
  std::vector<segment_ref> refs;
  std::uint32_t count = 0;
  std::uint16_t arena_words = 0;  // past the header page
  std::uint16_t traversal = 0xffff;
  std::vector<std::uint64_t> words;  // capnp::word cannot be copied
};

bytes encode(const table_seed& s) {
  bytes b;
  b.put(std::uint8_t{31}).put(std::uint8_t{63}).put(s.traversal).put(s.arena_words);
  b.put(table_header{s.count, 0}).put(static_cast<std::uint8_t>(s.refs.size()));
  for (const auto& r : s.refs) b.put(r);
  b.append(s.words.data(), s.words.size() * sizeof(std::uint64_t));
  return b;
}

// Lays out a built message's segments one after another past the header page.
table_seed lay_out(capnp::MessageBuilder& message) {
  table_seed s;
  std::uint64_t offset = seam::detail::header_bytes;
  for (const auto segment : message.getSegmentsForOutput()) {
    s.refs.push_back({offset, segment.size()});
    const std::size_t at = s.words.size();
    s.words.resize(at + segment.size());
    std::memcpy(s.words.data() + at, segment.begin(), segment.size() * sizeof(capnp::word));
    offset += segment.size() * sizeof(capnp::word);
  }
  s.count = static_cast<std::uint32_t>(s.refs.size());
  s.arena_words = static_cast<std::uint16_t>(s.words.size());
  return s;
}

void fill_node(capnp::schema::Node::Builder node) {
  node.setId(0x1234);
  node.setDisplayName("seam/fuzz.capnp:Example");
  node.setScopeId(0x42);
  auto nested = node.initNestedNodes(2);
  nested[0].setName("inner");
  nested[1].setName("other");
  auto fields = node.initStruct().initFields(2);
  fields[0].setName("payload");
  fields[1].setName("parts");
  node.initAnnotations(1)[0].setId(7);
}

void segments_seeds(const fs::path& dir) {
  {
    capnp::MallocMessageBuilder one;
    fill_node(one.initRoot<capnp::schema::Node>());
    write(dir, "node_one_segment", encode(lay_out(one)));
  }
  // Tiny fixed-size segments: far pointers and landing pads between segments.
  capnp::MallocMessageBuilder many(8, capnp::AllocationStrategy::FIXED_SIZE);
  fill_node(many.initRoot<capnp::schema::Node>());
  const table_seed valid = lay_out(many);
  write(dir, "node_many_segments", encode(valid));

  auto with = [&](auto change) {
    table_seed s = valid;
    change(s);
    return encode(s);
  };
  write(dir, "offset_in_header", with([](table_seed& s) { s.refs[0].offset = 0; }));
  write(dir, "offset_misaligned", with([](table_seed& s) { s.refs[0].offset += 4; }));
  write(dir, "segment_past_arena", with([](table_seed& s) { s.refs.back().words += 1; }));
  write(dir, "count_disagrees", with([](table_seed& s) { s.count += 1; }));
  write(dir, "empty_segment", with([](table_seed& s) { s.refs[0].words = 0; }));
  write(dir, "small_traversal_limit", with([](table_seed& s) { s.traversal = 3; }));

  // A struct pointer to itself (offset -1): a cycle the reader's limits must end.
  table_seed cycle;
  cycle.refs = {{seam::detail::header_bytes, 1}};
  cycle.count = 1;
  cycle.arena_words = 1;
  cycle.words.resize(1);
  const std::uint64_t self = (std::uint64_t{0xfffffffc}) | (std::uint64_t{1} << 48);
  cycle.words[0] = self;
  write(dir, "self_cycle", encode(cycle));
  // A pointer far outside its segment.
  const std::uint64_t away = std::uint64_t{0x7ffffff0} | (std::uint64_t{2} << 32);
  cycle.words[0] = away;
  write(dir, "pointer_out_of_segment", encode(cycle));
}

// --- arena_header_fuzzer: file choice, then the header -----------------------------------------
// Choice: index = byte % 16; sizes[index % 8] of {0, 48, 4095, 4096, 4097, 8192, 65536,
// 2 MiB + 4096}; sealed (shared as an arena is) if index >= 8.

void header_seeds(const fs::path& dir) {
  using seam::detail::arena_header;
  auto header = [](std::uint64_t capacity, std::uint64_t root_offset, std::uint64_t root_size) {
    return arena_header{seam::detail::arena_magic,
                        seam::detail::arena_version,
                        seam::detail::header_bytes,
                        0x0123456789abcdef,
                        capacity,
                        root_offset,
                        root_size,
                        0,
                        {},
                        0};
  };
  const std::uint64_t big = (std::uint64_t{2} << 20) + 4096;
  write(dir, "valid_4096", bytes{}.put(std::uint8_t{11}).put(header(4096, 0, 0)));
  write(dir, "valid_8192_root", bytes{}.put(std::uint8_t{13}).put(header(8192, 4096, 8)));
  write(dir, "valid_2m_root_at_end", bytes{}.put(std::uint8_t{15}).put(header(big, big - 64, 64)));
  write(dir, "root_past_end", bytes{}.put(std::uint8_t{13}).put(header(8192, 8192, 8)));
  write(dir, "unsealed", bytes{}.put(std::uint8_t{3}).put(header(4096, 0, 0)));
  write(dir, "short_file", bytes{}.put(std::uint8_t{9}).put(header(48, 0, 0)));
  write(dir, "capacity_disagrees", bytes{}.put(std::uint8_t{13}).put(header(4096, 0, 0)));
  auto old = header(4096, 0, 0);
  old.version = 0;
  write(dir, "old_version", bytes{}.put(std::uint8_t{11}).put(old));
  auto alien = header(4096, 0, 0);
  alien.magic = 0x4e45524141454554;
  write(dir, "bad_magic", bytes{}.put(std::uint8_t{11}).put(alien));
}

// --- directory_fuzzer: directory offset, type, name, then the bytes after the header page -----
// Type: byte % 3 of {u64, u32, array<u64, 8>}. The file is 64 KiB; the seeds lay the directory
// out as the owner does: block 0 at 4096, block 1 right after it, objects from 16 KiB.

struct directory_image {
  static constexpr std::size_t file_size = 64 * 1024;
  static constexpr std::uint64_t block0 = 4096;
  static constexpr std::uint64_t block1 = block0 + seam::detail::block_bytes(0);
  std::vector<std::uint8_t> data = std::vector<std::uint8_t>(file_size);

  directory_image() {
    add_block(block0, 0);
    add_block(block1, 1);
  }
  seam::detail::directory_block& block_at(std::uint64_t offset) {
    return *reinterpret_cast<seam::detail::directory_block*>(data.data() + offset);
  }
  void add_block(std::uint64_t offset, std::uint64_t index) {
    auto& b = block_at(offset);
    b.magic = seam::detail::directory_magic;
    b.index = index;
    b.capacity = seam::detail::block_capacity(index);
    if (index == 0) b.next = block1;
    // A tombstone on some probe paths, so seeds exercise walking past one.
    seam::detail::hashes_of(&b)[b.capacity - 1] = seam::detail::tombstone;
  }
  seam::detail::directory_entry& entry(std::uint64_t block, std::size_t i) {
    auto& b = block_at(block);
    return seam::detail::entries_of(&b, b.capacity)[i];
  }
  // The slot of `n` in `block`: on its probe path, the first never-used one, or its own.
  std::size_t slot_of(std::uint64_t block, std::string_view n) {
    auto& b = block_at(block);
    const std::uint64_t hash = seam::detail::name_hash(n);
    std::size_t i = seam::detail::probe_start(hash, b.capacity);
    const std::uint64_t* hashes = seam::detail::hashes_of(&b);
    while (hashes[i] != 0 && hashes[i] != hash) i = (i + 1) % b.capacity;
    return i;
  }
  seam::detail::directory_entry& entry(std::uint64_t block, std::string_view n) {
    return entry(block, slot_of(block, n));
  }
  // A live entry as `make_named<T>(name)` writes it, for an object at `object`.
  template <class T>
  seam::detail::directory_entry& name(std::uint64_t block, std::string_view n,
                                      std::uint64_t object) {
    const std::size_t i = slot_of(block, n);
    auto& e = entry(block, i);
    e.sequence = 2;
    e.state = seam::detail::entry_live;
    e.name_hash = seam::detail::name_hash(n);
    seam::detail::hashes_of(&block_at(block))[i] = e.name_hash;
    e.name_length = n.size();
    std::memcpy(e.name, n.data(), n.size());
    e.offset = object;
    const auto type = seam::detail::named_type_of<T>();
    e.size = type.size;
    e.alignment = type.alignment;
    e.fingerprint = type.fingerprint;
    return e;
  }
  // The input: the header's directory offset, type, name, then everything after the header.
  bytes input(std::uint64_t directory, std::uint8_t type, std::string_view n) const {
    bytes b;
    b.put(directory).put(type).put(static_cast<std::uint8_t>(n.size())).append(n.data(), n.size());
    // Trailing zeros need not be in the input: the fuzzer zero-pads.
    std::size_t end = data.size();
    while (end > seam::detail::header_bytes && data[end - 1] == 0) --end;
    return b.append(data.data() + seam::detail::header_bytes, end - seam::detail::header_bytes);
  }
};

void directory_seeds(const fs::path& dir) {
  using big = std::array<std::uint64_t, 8>;
  directory_image one;
  one.name<std::uint64_t>(one.block0, "answer", 16384);
  one.name<big>(one.block0, "line", 16448);
  write(dir, "valid_answer", one.input(one.block0, 0, "answer"));
  write(dir, "valid_line", one.input(one.block0, 2, "line"));
  write(dir, "type_mismatch", one.input(one.block0, 1, "answer"));
  write(dir, "missing", one.input(one.block0, 0, "absent"));
  write(dir, "no_directory", one.input(0, 0, "answer"));
  write(dir, "bad_name_empty", one.input(one.block0, 0, ""));
  write(dir, "offset_in_header", one.input(64, 0, "answer"));
  write(dir, "offset_misaligned", one.input(one.block0 + 8, 0, "answer"));

  directory_image two;  // block 0 full (other names and a tombstone), "answer" in block 1
  for (std::size_t i = 0; i + 1 < seam::detail::block_capacity(0); ++i) {
    two.name<std::uint32_t>(two.block0, "n" + std::to_string(i), 20000 + 64 * i);
  }
  two.name<std::uint64_t>(two.block1, "answer", 32768);
  write(dir, "valid_second_block", two.input(two.block0, 0, "answer"));
  directory_image cycle = two;
  cycle.block_at(cycle.block1).next = cycle.block0;
  write(dir, "chain_cycle", cycle.input(cycle.block0, 0, "absent"));
  directory_image wrong_index = two;
  wrong_index.block_at(wrong_index.block1).index = 0;
  write(dir, "block_wrong_index", wrong_index.input(wrong_index.block0, 0, "answer"));

  directory_image outside = one;
  outside.entry(outside.block0, "answer").offset = directory_image::file_size - 4;
  write(dir, "object_past_end", outside.input(outside.block0, 0, "answer"));
  directory_image stuck = one;
  stuck.entry(stuck.block0, "answer").sequence = 3;
  write(dir, "entry_mid_write", stuck.input(stuck.block0, 0, "answer"));
  directory_image nul = one;
  nul.name<std::uint64_t>(nul.block0, std::string_view("a\0b", 3), 16512);
  write(dir, "name_with_nul", nul.input(nul.block0, 0, std::string_view("a\0b", 3)));
}

}  // namespace

// --- ring_fuzzer: log2 size - 12, head, mode, tail (offset from head), the ring's bytes -------

bytes ring_seed(std::uint64_t head, std::uint64_t tail_offset, std::uint32_t size,
                std::uint32_t handles, std::uint32_t fds,
                std::uint32_t magic = seam::detail::record_header::magic_value) {
  bytes b;
  b.put(std::uint8_t{0}).put(head).put(std::uint8_t{1}).put(tail_offset);
  b.put(seam::detail::record_header{magic, size, handles, fds});
  for (std::uint32_t i = 0; i < handles; ++i) b.put(seam::handle<std::byte>{7, 4096 + 64 * i});
  for (std::uint32_t i = 0; i < size; ++i) b.put(static_cast<std::uint8_t>(i));
  return b;
}

void ring_seeds(const fs::path& dir) {
  write(dir, "one_message", ring_seed(0, 24, 8, 0, 0));
  write(dir, "handles_and_fds", ring_seed(64, 64, 13, 2, 1));
  write(dir, "wraps_around", ring_seed(4096 - 8, 40, 20, 0, 0));
  write(dir, "longer_than_published", ring_seed(0, 16, 100, 0, 0));
  write(dir, "tail_past_ring", ring_seed(0, 4096 + 8, 8, 0, 0));
  write(dir, "releases", ring_seed(0, 48, 0, 2, 0, seam::detail::record_header::release_magic));
}

// --- writers_fuzzer: patches of the writers' table, then operations ---------------------------

// Operations: 0 claim {u16 least pages, u16 extra chunks}, 1 remote free {u32 offset / 16},
// 2 collect, 3 counters, 4 patch {u16 word, u64 value}.
struct writers_seed {
  bytes b;
  explicit writers_seed(std::uint8_t patches) { b.put(patches); }
  writers_seed& patch(std::uint16_t word, std::uint64_t value) {
    b.put(word).put(value);
    return *this;
  }
  writers_seed& claim(std::uint16_t pages, std::uint16_t chunks) {
    b.put(std::uint8_t{0}).put(pages).put(chunks);
    return *this;
  }
  writers_seed& free_at(std::uint32_t offset) {
    b.put(std::uint8_t{1}).put(offset / 16);
    return *this;
  }
  writers_seed& op(std::uint8_t code) {
    b.put(code);
    return *this;
  }
};

void writers_seeds(const fs::path& dir) {
  // Word 4 of the region is the bump pointer; word 8 + 8 * slot is a slot's state, 9 + 8 * slot
  // its remote-free head.
  write(dir, "claim_free_collect",
        writers_seed(0).claim(3, 2).free_at(std::uint32_t{8} << 20).op(2).op(3).b);
  write(dir, "bad_bump", writers_seed(1).patch(4, std::uint64_t{1} << 40).claim(1, 1).op(3).b);
  write(dir, "bad_remote_head", writers_seed(1).patch(9, 0x12345).claim(1, 1).op(2).op(3).b);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  frame_seeds(root / "frame_fuzzer");
  handle_seeds(root / "handle_fuzzer");
  segments_seeds(root / "segments_fuzzer");
  header_seeds(root / "arena_header_fuzzer");
  directory_seeds(root / "directory_fuzzer");
  ring_seeds(root / "ring_fuzzer");
  writers_seeds(root / "writers_fuzzer");
  return 0;
}

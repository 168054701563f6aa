# Messages of the Cap'n Proto channel tests.
@0xe47729967c80ac61;

struct Part {
  data @0 :Data;
  hash @1 :UInt64;
}

struct File {
  name @0 :Text;
  parts @1 :List(Part);
}

struct Note {
  text @0 :Text;
  number @1 :UInt64;
}

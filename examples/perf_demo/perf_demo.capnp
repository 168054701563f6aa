# Messages of the perf demo: a client asks for a file of a given size; the server answers with
# the file as a list of parts. Big payloads are lists of parts because one Data field must stay
# under 512 MiB, and because real files are sent that way (chunked, each chunk checksummed).
@0xb43eb77a032204e0;

struct FileRequest {
  size @0 :UInt64;    # bytes of the file asked for; 0: a ping, answered with an empty File
  prepare @1 :Bool;   # build the file now, untimed, and answer with an empty File of that size
}

struct Part {
  data @0 :Data;      # up to 16 KiB of the file
  hash @1 :UInt64;    # perf_demo::hash_part of data
}

struct File {
  size @0 :UInt64;
  parts @1 :List(Part);
  error @2 :Text;     # set instead of parts when the server cannot answer
}

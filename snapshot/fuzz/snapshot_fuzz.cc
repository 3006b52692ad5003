// Fuzz target: what the snapshot module decodes from bytes it did not write itself in this run:
// a snapshot metadata file (from the data directory, possibly truncated, corrupt or foreign), a
// fork-server control request and a criu image manifest.
// With clang: clang++ -fsanitize=fuzzer,address -std=c++20 ... to fuzz for real; the GCC build
// replays fuzz/corpus through common/fuzz/replay_main.cc as a regression test.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fork_server/control_protocol.h"
#include "haneul/snapshot/snapshotter.h"
#ifdef HANEUL_WITH_CRIU_SNAPSHOT
#include "criu/criu.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto metadata = haneul::snapshot::DecodeMetadata(input);
  if (metadata.ok()) {
    // Whatever decodes must survive its own encoding.
    if (!haneul::snapshot::DecodeMetadata(haneul::snapshot::EncodeMetadata(*metadata)).ok()) {
      __builtin_trap();
    }
  }
  (void)haneul::snapshot::fork_server::DecodeForkRequest(input);
#ifdef HANEUL_WITH_CRIU_SNAPSHOT
  auto manifest = haneul::snapshot::criu::DecodeManifest(input);
  if (manifest.ok()) {
    auto again = haneul::snapshot::criu::DecodeManifest(haneul::snapshot::criu::EncodeManifest(*manifest));
    if (!again.ok() || again->files.size() != manifest->files.size()) __builtin_trap();
  }
#endif
  return 0;
}

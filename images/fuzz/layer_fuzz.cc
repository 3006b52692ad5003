// Fuzz target: the layer unpacker, fed untrusted layer bytes (plain, gzip or zstd tar). Each
// input is applied to a fresh rootfs beside a sentinel directory; anything appearing outside
// the rootfs aborts, as does a crash. With clang: clang++ -fsanitize=fuzzer,address -std=c++20
// ... to fuzz for real; the GCC build replays fuzz/corpus through replay_main.cc as a test.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "layer.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // One scratch folder per process, removed at exit.
  struct Scratch {
    std::string path;
    Scratch() {
      char pattern[] = "/tmp/haneul-layer-fuzz-XXXXXX";
      const char* dir = ::mkdtemp(pattern);
      if (!dir) std::abort();
      path = dir;
    }
    ~Scratch() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Scratch scratch;
  const std::string& base = scratch.path;
  std::string rootfs = base + "/rootfs", outside = base + "/outside";
  fs::create_directories(rootfs);
  fs::create_directories(outside);
  int fd = ::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) std::abort();
  haneul::images::UnpackLimits limits;
  limits.max_total_bytes = 16 << 20;  // keep one input's output small
  limits.max_entries = 10000;
  haneul::images::UnpackStats stats;
  auto source = haneul::images::MemorySource(
      std::string_view(reinterpret_cast<const char*>(data), size));
  (void)haneul::images::ApplyLayer(source.get(), fd, limits, &stats);
  ::close(fd);
  // Nothing may land beside the rootfs, whatever the layer said.
  for (const auto& entry : fs::directory_iterator(base)) {
    std::string name = entry.path().filename().string();
    if (name != "rootfs" && name != "outside") {
      std::fprintf(stderr, "layer wrote outside the rootfs: %s\n", entry.path().c_str());
      std::abort();
    }
  }
  if (!fs::is_empty(outside)) {
    std::fprintf(stderr, "layer wrote into the sentinel directory\n");
    std::abort();
  }
  if (!haneul::images::RemoveTree(rootfs).ok()) std::abort();
  return 0;
}

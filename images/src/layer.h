// Reading tar streams (ustar, pax, GNU long names; base-256 numbers) and applying image layers
// to a rootfs safely. Untrusted input: every size is bounded, every path is resolved inside
// the rootfs (openat2 RESOLVE_IN_ROOT), symlinks are created but never followed out of it.
// A TarReader / LayerUnpacker is used by one thread at a time.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "haneul/images/image_store.h"
#include "stream.h"

namespace haneul::images {

struct TarEntry {
  std::string path;
  char type = '0';  // '0' file, '1' hard link, '2' symlink, '3'/'4' devices, '5' dir, '6' fifo
  int64_t size = 0;
  uint32_t mode = 0;
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t mtime = 0;
  std::string link;  // symlink or hard-link target
};

class TarReader {
 public:
  TarReader(ByteSource* source, const UnpackLimits& limits) : source_(source), limits_(limits) {}
  // The next real entry (pax and GNU long-name records folded in); false at the end.
  Result<bool> Next(TarEntry* entry);
  // Reads the current entry's data; 0 at its end.
  Result<size_t> ReadData(char* buffer, size_t size);
  // Reads the whole current entry (refused above `max` bytes).
  Result<std::string> ReadAll(size_t max);

 private:
  Status ReadExact(char* buffer, size_t size, bool* clean_eof);
  Status SkipRemaining();
  Result<std::string> ReadSpecial(int64_t size, size_t max);

  ByteSource* source_;
  UnpackLimits limits_;
  int64_t remaining_ = 0;  // data bytes of the current entry not yet read
  int64_t padding_ = 0;    // padding after them
};

// Splits a tar path into components, dropping "", "." and leading "/"; refuses "..".
Result<std::vector<std::string>> SplitEntryPath(const std::string& path);

struct UnpackStats {
  int64_t bytes = 0;    // regular-file bytes written, across every layer applied
  int64_t entries = 0;
  int64_t skipped = 0;  // devices, fifos, unknown types
};

// Applies one layer stream (plain, gzip or zstd tar) to the rootfs directory `rootfs_fd`.
// `stats` accumulates across the layers of one image so the limits hold for the whole image.
// With `diff_id` ("sha256:..." of the uncompressed tar, from the image config) the layer's
// uncompressed bytes must hash to it.
Status ApplyLayer(ByteSource* layer, int rootfs_fd, const UnpackLimits& limits,
                  UnpackStats* stats, const std::string& diff_id = "");

// Deletes a directory tree without following symlinks.
Status RemoveTree(const std::string& path);

}  // namespace haneul::images

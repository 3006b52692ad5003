// Writes image layers: a gzip-compressed tar (ustar, with pax records for long names) into a
// temp file, computing the compressed digest and the uncompressed diff_id in one pass.
// Entries get uid/gid 0 and the host's modes and mtimes. One thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "haneul/common/status.h"

namespace haneul::images {

struct LayerInfo {
  std::string digest;   // sha256 of the compressed blob
  std::string diff_id;  // sha256 of the uncompressed tar
  int64_t size = 0;     // compressed size
};

class LayerWriter {
 public:
  LayerWriter();
  ~LayerWriter();
  Status Open(const std::string& path);
  Status AddDirectory(const std::string& name, uint32_t mode, int64_t mtime);
  Status AddBytes(const std::string& name, const std::string& data, uint32_t mode, int64_t mtime);
  Status AddSymlink(const std::string& name, const std::string& target, int64_t mtime);
  Status AddHostFile(const std::string& name, const std::string& host_path, uint32_t mode,
                     int64_t mtime);
  // Adds the tree under host_dir as `dest` ("/var/task", "/"), parents included, sorted.
  Status AddTree(const std::string& host_dir, const std::string& dest);
  Result<LayerInfo> Finish();

 private:
  Status Header(const std::string& name, char type, int64_t size, uint32_t mode, int64_t mtime,
                const std::string& link);
  Status Write(const void* data, size_t size);
  Status Pad(int64_t size);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul::images

// The content-addressed blob directory: <root>/blobs/sha256/<hex>, written through
// <root>/tmp (write, fsync, verify the digest, rename, fsync the directory) so a blob under
// its name is always complete and correct. Thread-safe: writers never share a temp file and
// the final rename is atomic; two writers of one digest both succeed with the same content.
#pragma once

#include <cstdint>
#include <string>

#include "haneul/common/status.h"
#include "stream.h"

namespace haneul::images {

class BlobStore {
 public:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  Status Init();

  std::string Path(const std::string& digest) const;
  bool Has(const std::string& digest) const;
  Result<int64_t> Size(const std::string& digest) const;
  // Reads a small blob (manifests, configs) fully; refuses blobs over `max` bytes.
  Result<std::string> ReadSmall(const std::string& digest, size_t max = 8 << 20) const;
  Result<std::unique_ptr<ByteSource>> Open(const std::string& digest) const;

  // Streams `source` into the store. With a non-empty `expected` digest (and size >= 0) a
  // mismatch is an error and nothing is stored. Returns the digest.
  Result<std::string> Ingest(ByteSource* source, const std::string& expected = "",
                             int64_t expected_size = -1);
  Result<std::string> Put(const std::string& data, const std::string& expected = "");

  // A fresh temp path inside the store (same filesystem as the blobs).
  std::string TempPath() const;
  // Moves a complete, already verified temp file in under its digest.
  Status Commit(const std::string& temp_path, const std::string& digest);

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace haneul::images

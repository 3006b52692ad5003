// Byte streams for image blobs: a file or memory source, transparent gzip/zstd decompression
// chosen by the stream's magic bytes, and a streaming sha256. Each object is used by one
// thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "haneul/common/status.h"

namespace haneul::images {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `size` bytes; 0 means end of stream. A corrupt or truncated stream is an error.
  virtual Result<size_t> Read(char* buffer, size_t size) = 0;
};

// Owns the descriptor.
std::unique_ptr<ByteSource> FileSource(int fd);
Result<std::unique_ptr<ByteSource>> OpenFileSource(const std::string& path);
// Reads from `inner` without owning it.
std::unique_ptr<ByteSource> Borrowed(ByteSource* inner);
// Does not copy: `data` must outlive the source.
std::unique_ptr<ByteSource> MemorySource(std::string_view data);

// Peeks at the first bytes of `inner` and decompresses gzip (RFC 1952, concatenated members
// allowed) or zstd when their magic is there; passes anything else through unchanged. A
// compressed stream that ends early is an error ("truncated gzip stream").
Result<std::unique_ptr<ByteSource>> Decompressed(std::unique_ptr<ByteSource> inner);

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  // Lower-case hex; the object is spent afterwards.
  std::string FinishHex();

 private:
  void* ctx_;
};

// "sha256:<64 lower-case hex>" only: the one algorithm this store accepts.
bool IsValidDigest(std::string_view digest);
std::string DigestHex(std::string_view digest);  // the part after "sha256:"

}  // namespace haneul::images

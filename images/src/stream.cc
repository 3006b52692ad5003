// Byte streams: files, memory, gzip (zlib) and zstd (libzstd) decompression, sha256 (OpenSSL).
#include "stream.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace haneul::images {

namespace {

constexpr size_t kChunk = 1 << 16;

class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  ~FdSource() override { ::close(fd_); }
  Result<size_t> Read(char* buffer, size_t size) override {
    for (;;) {
      ssize_t n = ::read(fd_, buffer, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Status::FromErrno("read");
    }
  }

 private:
  int fd_;
};

class MemSource : public ByteSource {
 public:
  explicit MemSource(std::string_view data) : data_(data) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    size_t n = std::min(size, data_.size() - offset_);
    std::memcpy(buffer, data_.data() + offset_, n);
    offset_ += n;
    return n;
  }

 private:
  std::string_view data_;
  size_t offset_ = 0;
};

class BorrowedSource : public ByteSource {
 public:
  explicit BorrowedSource(ByteSource* inner) : inner_(inner) {}
  Result<size_t> Read(char* buffer, size_t size) override { return inner_->Read(buffer, size); }

 private:
  ByteSource* inner_;
};

// Replays bytes already read from `inner` before reading on.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, std::unique_ptr<ByteSource> inner)
      : prefix_(std::move(prefix)), inner_(std::move(inner)) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    if (offset_ < prefix_.size()) {
      size_t n = std::min(size, prefix_.size() - offset_);
      std::memcpy(buffer, prefix_.data() + offset_, n);
      offset_ += n;
      return n;
    }
    return inner_->Read(buffer, size);
  }

 private:
  std::string prefix_;
  size_t offset_ = 0;
  std::unique_ptr<ByteSource> inner_;
};

class GzipSource : public ByteSource {
 public:
  explicit GzipSource(std::unique_ptr<ByteSource> inner) : inner_(std::move(inner)), in_(kChunk) {
    std::memset(&z_, 0, sizeof(z_));
    ok_ = inflateInit2(&z_, 15 + 16) == Z_OK;
  }
  ~GzipSource() override {
    if (ok_) inflateEnd(&z_);
  }
  Result<size_t> Read(char* buffer, size_t size) override {
    if (!ok_) return Status::Internal("gzip: inflateInit failed");
    if (done_) return size_t{0};
    const uInt want = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    z_.next_out = reinterpret_cast<Bytef*>(buffer);
    z_.avail_out = want;
    while (z_.avail_out == want && !done_) {
      if (z_.avail_in == 0) {
        auto n = inner_->Read(reinterpret_cast<char*>(in_.data()), in_.size());
        if (!n.ok()) return n.status();
        if (*n == 0) {
          if (member_ended_) {
            done_ = true;
            break;
          }
          return Status::Corruption("truncated gzip stream");
        }
        z_.next_in = in_.data();
        z_.avail_in = static_cast<uInt>(*n);
      }
      if (member_ended_) {
        // Another gzip member follows (pigz and some tools write several).
        if (inflateReset(&z_) != Z_OK) return Status::Corruption("gzip: reset failed");
        member_ended_ = false;
      }
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_ended_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Status::Corruption(std::string("corrupt gzip stream: ") +
                                  (z_.msg ? z_.msg : "inflate error"));
      }
    }
    return static_cast<size_t>(want - z_.avail_out);
  }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::vector<Bytef> in_;
  z_stream z_;
  bool ok_ = false;
  bool member_ended_ = false;
  bool done_ = false;
};

class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(std::unique_ptr<ByteSource> inner)
      : inner_(std::move(inner)), in_(ZSTD_DStreamInSize()), stream_(ZSTD_createDStream()) {
    if (stream_) ZSTD_initDStream(stream_);
    // Bound the window a hostile frame can make us allocate (128 MiB).
    if (stream_) ZSTD_DCtx_setParameter(stream_, ZSTD_d_windowLogMax, 27);
  }
  ~ZstdSource() override { ZSTD_freeDStream(stream_); }
  Result<size_t> Read(char* buffer, size_t size) override {
    if (!stream_) return Status::Internal("zstd: out of memory");
    ZSTD_outBuffer out{buffer, size, 0};
    while (out.pos == 0 && !done_) {
      if (input_.pos == input_.size) {
        auto n = inner_->Read(in_.data(), in_.size());
        if (!n.ok()) return n.status();
        if (*n == 0) {
          if (last_ == 0 && started_) {
            done_ = true;
            break;
          }
          return Status::Corruption("truncated zstd stream");
        }
        input_ = ZSTD_inBuffer{in_.data(), *n, 0};
      }
      started_ = true;
      size_t rc = ZSTD_decompressStream(stream_, &out, &input_);
      if (ZSTD_isError(rc)) {
        return Status::Corruption(std::string("corrupt zstd stream: ") + ZSTD_getErrorName(rc));
      }
      last_ = rc;
    }
    return out.pos;
  }

 private:
  std::unique_ptr<ByteSource> inner_;
  std::vector<char> in_;
  ZSTD_DStream* stream_;
  ZSTD_inBuffer input_{nullptr, 0, 0};
  size_t last_ = 1;
  bool started_ = false;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<ByteSource> FileSource(int fd) { return std::make_unique<FdSource>(fd); }

Result<std::unique_ptr<ByteSource>> OpenFileSource(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + path);
  return FileSource(fd);
}

std::unique_ptr<ByteSource> Borrowed(ByteSource* inner) {
  return std::make_unique<BorrowedSource>(inner);
}

std::unique_ptr<ByteSource> MemorySource(std::string_view data) {
  return std::make_unique<MemSource>(data);
}

Result<std::unique_ptr<ByteSource>> Decompressed(std::unique_ptr<ByteSource> inner) {
  std::string magic(4, '\0');
  size_t have = 0;
  while (have < magic.size()) {
    auto n = inner->Read(magic.data() + have, magic.size() - have);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    have += *n;
  }
  magic.resize(have);
  bool gzip = have >= 2 && static_cast<unsigned char>(magic[0]) == 0x1f &&
              static_cast<unsigned char>(magic[1]) == 0x8b;
  bool zstd = have >= 4 && magic == std::string("\x28\xb5\x2f\xfd", 4);
  std::unique_ptr<ByteSource> source =
      std::make_unique<PrefixedSource>(std::move(magic), std::move(inner));
  if (gzip) return std::unique_ptr<ByteSource>(std::make_unique<GzipSource>(std::move(source)));
  if (zstd) return std::unique_ptr<ByteSource>(std::make_unique<ZstdSource>(std::move(source)));
  return source;
}

Sha256::Sha256() {
  auto* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  ctx_ = ctx;
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(const void* data, size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string Sha256::FinishHex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

bool IsValidDigest(std::string_view digest) {
  if (digest.size() != 7 + 64 || digest.substr(0, 7) != "sha256:") return false;
  for (char c : digest.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string DigestHex(std::string_view digest) {
  return std::string(digest.size() > 7 ? digest.substr(7) : std::string_view());
}

}  // namespace haneul::images

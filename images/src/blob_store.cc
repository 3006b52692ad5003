// The content-addressed blob directory. See blob_store.h.
#include "blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "haneul/common/ids.h"

namespace haneul::images {

Status BlobStore::Init() {
  std::error_code ec;
  std::filesystem::create_directories(root_ + "/blobs/sha256", ec);
  if (ec) return Status::IoError("create " + root_ + "/blobs/sha256: " + ec.message());
  std::filesystem::create_directories(root_ + "/tmp", ec);
  if (ec) return Status::IoError("create " + root_ + "/tmp: " + ec.message());
  return Status::Ok();
}

std::string BlobStore::Path(const std::string& digest) const {
  return root_ + "/blobs/sha256/" + DigestHex(digest);
}

bool BlobStore::Has(const std::string& digest) const {
  if (!IsValidDigest(digest)) return false;
  struct stat st;
  return ::stat(Path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> BlobStore::Size(const std::string& digest) const {
  struct stat st;
  if (!IsValidDigest(digest) || ::stat(Path(digest).c_str(), &st) != 0) {
    return Status::NotFound("blob " + digest + " is not in the store");
  }
  return static_cast<int64_t>(st.st_size);
}

Result<std::unique_ptr<ByteSource>> BlobStore::Open(const std::string& digest) const {
  if (!IsValidDigest(digest)) return Status::InvalidArgument("invalid digest " + digest);
  int fd = ::open(Path(digest).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("blob " + digest + " is not in the store");
    return Status::FromErrno("open blob " + digest);
  }
  return FileSource(fd);
}

Result<std::string> BlobStore::ReadSmall(const std::string& digest, size_t max) const {
  auto source = Open(digest);
  if (!source.ok()) return source.status();
  std::string data;
  char buffer[1 << 14];
  for (;;) {
    auto n = (*source)->Read(buffer, sizeof(buffer));
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    data.append(buffer, *n);
    if (data.size() > max) return Status::InvalidArgument("blob " + digest + " is too large");
  }
  return data;
}

std::string BlobStore::TempPath() const { return root_ + "/tmp/blob-" + RandomHex(16); }

Status BlobStore::Commit(const std::string& temp_path, const std::string& digest) {
  if (::rename(temp_path.c_str(), Path(digest).c_str()) != 0) {
    Status status = Status::FromErrno("rename blob " + digest);
    ::unlink(temp_path.c_str());
    return status;
  }
  int dir = ::open((root_ + "/blobs/sha256").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::Ok();
}

Result<std::string> BlobStore::Ingest(ByteSource* source, const std::string& expected,
                                      int64_t expected_size) {
  if (!expected.empty() && !IsValidDigest(expected)) {
    return Status::InvalidArgument("unsupported digest " + expected);
  }
  if (!expected.empty() && Has(expected)) {
    // Already here (and verified when written): drain nothing, reuse it.
    return expected;
  }
  std::string temp = TempPath();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create " + temp);
  Sha256 hash;
  int64_t total = 0;
  std::vector<char> buffer(1 << 16);
  Status status;
  for (;;) {
    auto n = source->Read(buffer.data(), buffer.size());
    if (!n.ok()) {
      status = n.status();
      break;
    }
    if (*n == 0) break;
    hash.Update(buffer.data(), *n);
    total += static_cast<int64_t>(*n);
    if (expected_size >= 0 && total > expected_size) {
      status = Status::Corruption("blob " + expected + " is larger than its descriptor says");
      break;
    }
    size_t done = 0;
    while (done < *n) {
      ssize_t w = ::write(fd, buffer.data() + done, *n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        status = Status::FromErrno("write " + temp);
        break;
      }
      done += static_cast<size_t>(w);
    }
    if (!status.ok()) break;
  }
  if (status.ok() && ::fsync(fd) != 0) status = Status::FromErrno("fsync " + temp);
  ::close(fd);
  std::string digest = "sha256:" + hash.FinishHex();
  if (status.ok() && !expected.empty() && digest != expected) {
    status = Status::Corruption("digest mismatch: expected " + expected + ", got " + digest);
  }
  if (status.ok() && expected_size >= 0 && total != expected_size) {
    status = Status::Corruption("size mismatch for " + digest + ": expected " +
                                std::to_string(expected_size) + ", got " + std::to_string(total));
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  HANEUL_RETURN_IF_ERROR(Commit(temp, digest));
  return digest;
}

Result<std::string> BlobStore::Put(const std::string& data, const std::string& expected) {
  auto source = MemorySource(data);
  return Ingest(source.get(), expected, expected.empty() ? -1 : static_cast<int64_t>(data.size()));
}

}  // namespace haneul::images

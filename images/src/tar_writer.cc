// The layer writer. See tar_writer.h.
#include "tar_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include "stream.h"

namespace haneul::images {

struct LayerWriter::Impl {
  int fd = -1;
  z_stream z;
  bool z_ok = false;
  Sha256 raw;
  Sha256 compressed;
  int64_t compressed_size = 0;
  std::vector<unsigned char> out = std::vector<unsigned char>(1 << 16);
  std::set<std::string> dirs;  // directories already written

  Status Drain(int flush) {
    do {
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      int rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR) return Status::Internal("deflate failed");
      size_t have = out.size() - z.avail_out;
      compressed.Update(out.data(), have);
      compressed_size += static_cast<int64_t>(have);
      size_t done = 0;
      while (done < have) {
        ssize_t w = ::write(fd, out.data() + done, have - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return Status::FromErrno("write layer");
        done += static_cast<size_t>(w);
      }
    } while (z.avail_out == 0);
    return Status::Ok();
  }
};

LayerWriter::LayerWriter() : impl_(std::make_unique<Impl>()) {}

LayerWriter::~LayerWriter() {
  if (impl_->z_ok) deflateEnd(&impl_->z);
  if (impl_->fd >= 0) ::close(impl_->fd);
}

Status LayerWriter::Open(const std::string& path) {
  impl_->fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (impl_->fd < 0) return Status::FromErrno("create " + path);
  std::memset(&impl_->z, 0, sizeof(impl_->z));
  // Level 1: layers are written once per build; speed beats the last few percent of size.
  if (deflateInit2(&impl_->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("deflateInit failed");
  }
  impl_->z_ok = true;
  return Status::Ok();
}

Status LayerWriter::Write(const void* data, size_t size) {
  impl_->raw.Update(data, size);
  impl_->z.next_in = static_cast<Bytef*>(const_cast<void*>(data));
  impl_->z.avail_in = static_cast<uInt>(size);
  return impl_->Drain(Z_NO_FLUSH);
}

Status LayerWriter::Pad(int64_t size) {
  static const char kZeros[512] = {};
  size_t pad = static_cast<size_t>((512 - size % 512) % 512);
  return pad ? Write(kZeros, pad) : Status::Ok();
}

namespace {

// Zero-padded octal filling size-1 digits plus a NUL (callers keep values in range).
void Octal(char* field, size_t size, int64_t value) {
  uint64_t v = static_cast<uint64_t>(value);
  for (size_t i = size - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  }
  field[size - 1] = '\0';
}

std::string PaxRecord(const std::string& key, const std::string& value) {
  std::string body = " " + key + "=" + value + "\n";
  size_t length = body.size() + 1;
  while (std::to_string(length).size() + body.size() != length) ++length;
  return std::to_string(length) + body;
}

}  // namespace

Status LayerWriter::Header(const std::string& name, char type, int64_t size, uint32_t mode,
                           int64_t mtime, const std::string& link) {
  std::string pax;
  if (name.size() > 100) pax += PaxRecord("path", name);
  if (link.size() > 100) pax += PaxRecord("linkpath", link);
  if (size > 077777777777LL) pax += PaxRecord("size", std::to_string(size));
  if (!pax.empty()) {
    HANEUL_RETURN_IF_ERROR(Header("PaxHeaders/" + name.substr(0, 80), 'x',
                                  static_cast<int64_t>(pax.size()), 0644, mtime, ""));
    HANEUL_RETURN_IF_ERROR(Write(pax.data(), pax.size()));
    HANEUL_RETURN_IF_ERROR(Pad(static_cast<int64_t>(pax.size())));
  }
  char h[512] = {};
  std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
  Octal(h + 100, 8, mode & 07777);
  Octal(h + 108, 8, 0);
  Octal(h + 116, 8, 0);
  Octal(h + 124, 12, size > 077777777777LL ? 0 : size);
  Octal(h + 136, 12, mtime < 0 ? 0 : mtime);
  std::memset(h + 148, ' ', 8);
  h[156] = type;
  std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 100));
  std::memcpy(h + 257, "ustar\0" "00", 8);
  std::memcpy(h + 265, "root", 4);
  std::memcpy(h + 297, "root", 4);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  Octal(h + 148, 7, sum);  // six digits, NUL, then the space already there
  h[155] = ' ';
  return Write(h, sizeof(h));
}

Status LayerWriter::AddDirectory(const std::string& name, uint32_t mode, int64_t mtime) {
  std::string n = name.empty() || name.back() == '/' ? name : name + "/";
  if (!impl_->dirs.insert(n).second) return Status::Ok();
  return Header(n, '5', 0, mode, mtime, "");
}

Status LayerWriter::AddBytes(const std::string& name, const std::string& data, uint32_t mode,
                             int64_t mtime) {
  HANEUL_RETURN_IF_ERROR(Header(name, '0', static_cast<int64_t>(data.size()), mode, mtime, ""));
  HANEUL_RETURN_IF_ERROR(Write(data.data(), data.size()));
  return Pad(static_cast<int64_t>(data.size()));
}

Status LayerWriter::AddSymlink(const std::string& name, const std::string& target, int64_t mtime) {
  return Header(name, '2', 0, 0777, mtime, target);
}

Status LayerWriter::AddHostFile(const std::string& name, const std::string& host_path,
                                uint32_t mode, int64_t mtime) {
  int fd = ::open(host_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + host_path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::FromErrno("stat " + host_path);
  }
  Status status = Header(name, '0', st.st_size, mode, mtime, "");
  std::vector<char> buffer(1 << 16);
  int64_t total = 0;
  while (status.ok() && total < st.st_size) {
    ssize_t n = ::read(fd, buffer.data(),
                       static_cast<size_t>(std::min<int64_t>(st.st_size - total, buffer.size())));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = n < 0 ? Status::FromErrno("read " + host_path)
                     : Status::IoError(host_path + " shrank while being read");
      break;
    }
    status = Write(buffer.data(), static_cast<size_t>(n));
    total += n;
  }
  ::close(fd);
  HANEUL_RETURN_IF_ERROR(status);
  return Pad(st.st_size);
}

Status LayerWriter::AddTree(const std::string& host_dir, const std::string& dest) {
  namespace fs = std::filesystem;
  std::string prefix;
  for (const auto& part : fs::path(dest).relative_path()) {
    if (part.empty() || part == ".") continue;
    prefix += part.string() + "/";
    HANEUL_RETURN_IF_ERROR(AddDirectory(prefix, 0755, 0));
  }
  std::error_code ec;
  std::vector<fs::path> paths;
  for (fs::recursive_directory_iterator it(host_dir, ec), end; !ec && it != end; it.increment(ec)) {
    paths.push_back(it->path());
  }
  if (ec) return Status::IoError("walk " + host_dir + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    std::string rel = path.lexically_relative(host_dir).generic_string();
    std::string name = prefix + rel;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path.string());
    if (S_ISDIR(st.st_mode)) {
      HANEUL_RETURN_IF_ERROR(AddDirectory(name, st.st_mode & 07777, st.st_mtime));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      if (n < 0) return Status::FromErrno("readlink " + path.string());
      target.resize(static_cast<size_t>(n));
      HANEUL_RETURN_IF_ERROR(AddSymlink(name, target, st.st_mtime));
    } else if (S_ISREG(st.st_mode)) {
      HANEUL_RETURN_IF_ERROR(AddHostFile(name, path.string(), st.st_mode & 07777, st.st_mtime));
    }
    // Sockets, fifos and devices in a build folder are not image content.
  }
  return Status::Ok();
}

Result<LayerInfo> LayerWriter::Finish() {
  static const char kEnd[1024] = {};
  HANEUL_RETURN_IF_ERROR(Write(kEnd, sizeof(kEnd)));
  impl_->z.next_in = nullptr;
  impl_->z.avail_in = 0;
  HANEUL_RETURN_IF_ERROR(impl_->Drain(Z_FINISH));
  if (::fsync(impl_->fd) != 0) return Status::FromErrno("fsync layer");
  ::close(impl_->fd);
  impl_->fd = -1;
  LayerInfo info;
  info.digest = "sha256:" + impl_->compressed.FinishHex();
  info.diff_id = "sha256:" + impl_->raw.FinishHex();
  info.size = impl_->compressed_size;
  return info;
}

}  // namespace haneul::images

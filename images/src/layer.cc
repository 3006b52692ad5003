// The tar reader and the safe layer unpacker. Why it is safe: every parent directory is
// opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) relative to the rootfs, so
// ".." and symlinks (absolute or relative) resolve as if the rootfs were "/"; the final
// component is created with *at() calls that never follow it (O_NOFOLLOW / O_EXCL /
// AT_SYMLINK_NOFOLLOW); hard links are resolved the same way, so no entry can write, link or
// delete anything outside the rootfs.
#include "layer.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace haneul::images {

namespace {

constexpr size_t kBlock = 512;
// Deeper paths make every resolution slow and no real image needs them.
constexpr size_t kMaxDepth = 256;

// Owns a descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Parses an octal or base-256 (GNU, high bit set) numeric field.
bool ParseNumber(const char* field, size_t size, int64_t* out) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(field);
  if (size > 0 && (bytes[0] & 0x80)) {
    if (bytes[0] & 0x40) return false;  // negative
    uint64_t value = bytes[0] & 0x3f;
    for (size_t i = 1; i < size; ++i) {
      if (value > (UINT64_MAX >> 8)) return false;
      value = (value << 8) | bytes[i];
    }
    if (value > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(value);
    return true;
  }
  size_t i = 0;
  while (i < size && (field[i] == ' ' || field[i] == '\0')) ++i;
  uint64_t value = 0;
  bool any = false;
  for (; i < size && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (value > (static_cast<uint64_t>(INT64_MAX) >> 3)) return false;
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
    any = true;
  }
  for (; i < size; ++i) {
    if (field[i] != ' ' && field[i] != '\0') return false;
  }
  *out = any ? static_cast<int64_t>(value) : 0;
  return true;
}

std::string Field(const char* field, size_t size) {
  size_t n = 0;
  while (n < size && field[n] != '\0') ++n;
  return std::string(field, n);
}

bool ChecksumOk(const char* header) {
  int64_t stored = 0;
  if (!ParseNumber(header + 148, 8, &stored)) return false;
  int64_t unsigned_sum = 0, signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    bool in_field = i >= 148 && i < 156;
    unsigned_sum += in_field ? ' ' : static_cast<unsigned char>(header[i]);
    signed_sum += in_field ? ' ' : static_cast<signed char>(header[i]);
  }
  return stored == unsigned_sum || stored == signed_sum;
}

// Applies "len key=value\n" pax records to the entry being built.
Status ApplyPax(const std::string& data, TarEntry* entry, bool* has_path, bool* has_link,
                bool* has_size) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t space = data.find(' ', pos);
    if (space == std::string::npos || space - pos > 20) {
      return Status::Corruption("malformed pax record");
    }
    int64_t length = 0;
    for (size_t i = pos; i < space; ++i) {
      if (data[i] < '0' || data[i] > '9') return Status::Corruption("malformed pax record length");
      length = length * 10 + (data[i] - '0');
    }
    if (length <= static_cast<int64_t>(space - pos) + 1 ||
        static_cast<size_t>(length) > data.size() - pos || data[pos + length - 1] != '\n') {
      return Status::Corruption("malformed pax record length");
    }
    std::string record = data.substr(space + 1, pos + length - 1 - (space + 1));
    pos += length;
    size_t eq = record.find('=');
    if (eq == std::string::npos) return Status::Corruption("malformed pax record");
    std::string key = record.substr(0, eq), value = record.substr(eq + 1);
    auto number = [&](int64_t* out) -> Status {
      int64_t v = 0;
      size_t i = 0;
      for (; i < value.size() && value[i] != '.'; ++i) {
        if (value[i] < '0' || value[i] > '9' || v > INT64_MAX / 10 - 10) {
          return Status::Corruption("malformed pax number for " + key);
        }
        v = v * 10 + (value[i] - '0');
      }
      if (i == 0) return Status::Corruption("malformed pax number for " + key);
      *out = v;
      return Status::Ok();
    };
    if (key == "path") {
      entry->path = value;
      *has_path = true;
    } else if (key == "linkpath") {
      entry->link = value;
      *has_link = true;
    } else if (key == "size") {
      HANEUL_RETURN_IF_ERROR(number(&entry->size));
      *has_size = true;
    } else if (key == "uid") {
      HANEUL_RETURN_IF_ERROR(number(&entry->uid));
    } else if (key == "gid") {
      HANEUL_RETURN_IF_ERROR(number(&entry->gid));
    } else if (key == "mtime") {
      HANEUL_RETURN_IF_ERROR(number(&entry->mtime));
    }
    // Other keys (atime, xattrs, GNU sparse) are ignored.
  }
  return Status::Ok();
}

}  // namespace

Status TarReader::ReadExact(char* buffer, size_t size, bool* clean_eof) {
  size_t have = 0;
  while (have < size) {
    auto n = source_->Read(buffer + have, size - have);
    if (!n.ok()) return n.status();
    if (*n == 0) {
      if (have == 0 && clean_eof) {
        *clean_eof = true;
        return Status::Ok();
      }
      return Status::Corruption("truncated tar stream");
    }
    have += *n;
  }
  return Status::Ok();
}

Status TarReader::SkipRemaining() {
  char buffer[1 << 14];
  int64_t left = remaining_ + padding_;
  while (left > 0) {
    size_t chunk = static_cast<size_t>(std::min<int64_t>(left, sizeof(buffer)));
    HANEUL_RETURN_IF_ERROR(ReadExact(buffer, chunk, nullptr));
    left -= static_cast<int64_t>(chunk);
  }
  remaining_ = padding_ = 0;
  return Status::Ok();
}

Result<std::string> TarReader::ReadSpecial(int64_t size, size_t max) {
  if (size < 0 || static_cast<uint64_t>(size) > max) {
    return Status::Corruption("tar metadata record too large (" + std::to_string(size) + " bytes)");
  }
  std::string data(static_cast<size_t>(size), '\0');
  HANEUL_RETURN_IF_ERROR(ReadExact(data.data(), data.size(), nullptr));
  size_t pad = (kBlock - data.size() % kBlock) % kBlock;
  char skip[kBlock];
  HANEUL_RETURN_IF_ERROR(ReadExact(skip, pad, nullptr));
  return data;
}

Result<bool> TarReader::Next(TarEntry* entry) {
  HANEUL_RETURN_IF_ERROR(SkipRemaining());
  *entry = TarEntry();
  TarEntry overrides;
  bool has_path = false, has_link = false, has_size = false;
  for (int records = 0;; ++records) {
    if (records > 64) return Status::Corruption("too many tar metadata records in a row");
    char header[kBlock];
    bool eof = false;
    HANEUL_RETURN_IF_ERROR(ReadExact(header, kBlock, &eof));
    // The end: EOF at a record boundary, or a zero block (the second one is not required).
    if (eof) return false;
    bool zero = true;
    for (char c : header) zero = zero && c == 0;
    if (zero) {
      if (records > 0) return Status::Corruption("tar stream ends inside an entry's metadata");
      return false;
    }
    if (!ChecksumOk(header)) return Status::Corruption("tar header checksum mismatch");
    int64_t size = 0;
    if (!ParseNumber(header + 124, 12, &size)) return Status::Corruption("bad tar size field");
    char type = header[156];
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      auto data = ReadSpecial(size, type == 'x' || type == 'g' ? limits_.max_pax_bytes
                                                               : limits_.max_path_bytes + 1);
      if (!data.ok()) return data.status();
      if (type == 'x') {
        HANEUL_RETURN_IF_ERROR(ApplyPax(*data, &overrides, &has_path, &has_link, &has_size));
      } else if (type == 'L') {
        overrides.path = Field(data->data(), data->size());
        has_path = true;
      } else if (type == 'K') {
        overrides.link = Field(data->data(), data->size());
        has_link = true;
      }
      continue;  // 'g' (global pax) carries nothing we use
    }
    std::string magic(header + 257, 6);
    std::string name = Field(header, 100);
    if (magic == std::string("ustar\0", 6)) {
      std::string prefix = Field(header + 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    entry->path = has_path ? overrides.path : name;
    entry->link = has_link ? overrides.link : Field(header + 157, 100);
    entry->type = type == '\0' || type == '7' ? '0' : type;
    int64_t mode = 0;
    if (!ParseNumber(header + 100, 8, &mode) || !ParseNumber(header + 108, 8, &entry->uid) ||
        !ParseNumber(header + 116, 8, &entry->gid) ||
        !ParseNumber(header + 136, 12, &entry->mtime)) {
      return Status::Corruption("bad tar numeric field in " + entry->path);
    }
    entry->mode = static_cast<uint32_t>(mode & 07777);
    if (overrides.uid) entry->uid = overrides.uid;
    if (overrides.gid) entry->gid = overrides.gid;
    if (overrides.mtime) entry->mtime = overrides.mtime;
    entry->size = has_size ? overrides.size : size;
    if (entry->size < 0 || entry->size > limits_.max_entry_bytes) {
      return Status::Corruption("tar entry " + entry->path + " declares an absurd size (" +
                                std::to_string(entry->size) + " bytes)");
    }
    if (entry->path.size() > limits_.max_path_bytes || entry->link.size() > limits_.max_path_bytes) {
      return Status::Corruption("tar entry path too long");
    }
    // Only regular files carry data we read; others' sizes are skipped as they say.
    remaining_ = entry->size;
    padding_ = (static_cast<int64_t>(kBlock) - entry->size % static_cast<int64_t>(kBlock)) %
               static_cast<int64_t>(kBlock);
    return true;
  }
}

Result<size_t> TarReader::ReadData(char* buffer, size_t size) {
  if (remaining_ == 0) return size_t{0};
  size_t chunk = static_cast<size_t>(std::min<int64_t>(remaining_, static_cast<int64_t>(size)));
  auto n = source_->Read(buffer, chunk);
  if (!n.ok()) return n.status();
  if (*n == 0) return Status::Corruption("truncated tar stream");
  remaining_ -= static_cast<int64_t>(*n);
  return *n;
}

Result<std::string> TarReader::ReadAll(size_t max) {
  if (static_cast<uint64_t>(remaining_) > max) {
    return Status::Corruption("tar entry too large to read into memory");
  }
  std::string data(static_cast<size_t>(remaining_), '\0');
  size_t have = 0;
  while (have < data.size()) {
    auto n = ReadData(data.data() + have, data.size() - have);
    if (!n.ok()) return n.status();
    have += *n;
  }
  return data;
}

Result<std::vector<std::string>> SplitEntryPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return Status::InvalidArgument("tar entry escapes the rootfs: " + path);
    if (part.find('\0') != std::string::npos) return Status::InvalidArgument("NUL in tar path");
    parts.push_back(std::move(part));
  }
  return parts;
}

namespace {

int OpenInRoot(int root_fd, const std::string& path, int flags) {
  struct open_how how;
  std::memset(&how, 0, sizeof(how));
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root_fd, path.empty() ? "." : path.c_str(), &how, sizeof(how));
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

std::string Join(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

Status RemoveAt(int dir_fd, const std::string& name) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status::Ok() : Status::FromErrno("stat " + name);
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + name);
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
      ::close(fd);
      return Status::FromErrno("opendir " + name);
    }
    std::vector<std::string> children;
    while (struct dirent* d = ::readdir(dir)) {
      std::string child = d->d_name;
      if (child != "." && child != "..") children.push_back(child);
    }
    Status status;
    for (const auto& child : children) {
      status = RemoveAt(::dirfd(dir), child);
      if (!status.ok()) break;
    }
    ::closedir(dir);
    HANEUL_RETURN_IF_ERROR(status);
    if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) return Status::FromErrno("rmdir " + name);
    return Status::Ok();
  }
  if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return Status::FromErrno("unlink " + name);
  }
  return Status::Ok();
}

class Unpacker {
 public:
  Unpacker(int root_fd, const UnpackLimits& limits, UnpackStats* stats)
      : root_fd_(root_fd), limits_(limits), stats_(stats), root_(::geteuid() == 0) {}

  Status Apply(TarReader* reader, const TarEntry& entry);

 private:
  // Opens (creating missing directories when `create`) the directory holding parts[0..n).
  Result<Fd> OpenDir(const std::vector<std::string>& parts, size_t count, bool create);
  Status WriteFile(TarReader* reader, int dir_fd, const std::string& name, const TarEntry& entry);
  void SetOwnerAndTimes(int dir_fd, const std::string& name, const TarEntry& entry);

  int root_fd_;
  UnpackLimits limits_;
  UnpackStats* stats_;
  bool root_;
  std::set<std::string> this_layer_;  // paths written by this layer (an opaque dir keeps them)
};

Result<Fd> Unpacker::OpenDir(const std::vector<std::string>& parts, size_t count, bool create) {
  // Usually the whole parent exists: one resolution.
  int fd = OpenInRoot(root_fd_, Join(parts, count), O_PATH | O_DIRECTORY);
  if (fd >= 0) return Fd(fd);
  if (errno != ENOENT || !create) return Status::FromErrno("open directory " + Join(parts, count));
  // Find the deepest existing ancestor (entries usually miss only their last directories)...
  size_t have = count;
  Fd current;
  while (have > 0) {
    --have;
    fd = OpenInRoot(root_fd_, Join(parts, have), O_PATH | O_DIRECTORY);
    if (fd >= 0) {
      current.reset(fd);
      break;
    }
    if (errno != ENOENT) return Status::FromErrno("open directory " + Join(parts, have));
  }
  if (current.get() < 0) return Status::FromErrno("open rootfs");
  // ...then create the rest like tar does. The first missing component may be a dangling
  // symlink: mkdirat then fails (EEXIST) and the entry is refused, not followed. Directories
  // created here are fresh and real, so their children are opened with O_NOFOLLOW directly.
  for (size_t i = have; i < count; ++i) {
    if (::mkdirat(current.get(), parts[i].c_str(), 0755) != 0) {
      return Status::FromErrno("mkdir " + Join(parts, i + 1));
    }
    fd = ::openat(current.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open directory " + Join(parts, i + 1));
    current.reset(fd);
  }
  return current;
}

void Unpacker::SetOwnerAndTimes(int dir_fd, const std::string& name, const TarEntry& entry) {
  if (root_) {
    // Best effort: an id the filesystem cannot store is not worth failing the image over.
    (void)::fchownat(dir_fd, name.c_str(), static_cast<uid_t>(entry.uid),
                     static_cast<gid_t>(entry.gid), AT_SYMLINK_NOFOLLOW);
  }
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = entry.mtime;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  (void)::utimensat(dir_fd, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

Status Unpacker::WriteFile(TarReader* reader, int dir_fd, const std::string& name,
                           const TarEntry& entry) {
  if (stats_->bytes + entry.size > limits_.max_total_bytes) {
    return Status::InvalidArgument("image exceeds the unpacked size limit of " +
                                   std::to_string(limits_.max_total_bytes) + " bytes");
  }
  Fd fd(::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Status::FromErrno("create " + entry.path);
  std::vector<char> buffer(1 << 16);
  for (;;) {
    auto n = reader->ReadData(buffer.data(), buffer.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    size_t done = 0;
    while (done < *n) {
      ssize_t w = ::write(fd.get(), buffer.data() + done, *n - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + entry.path);
      }
      done += static_cast<size_t>(w);
    }
  }
  stats_->bytes += entry.size;
  if (root_) {
    (void)::fchown(fd.get(), static_cast<uid_t>(entry.uid), static_cast<gid_t>(entry.gid));
  }
  // After chown, which clears setuid/setgid: the image's modes are kept as they are (the
  // sandbox runs workers with no_new_privs, so setuid bits grant nothing).
  if (::fchmod(fd.get(), entry.mode) != 0) return Status::FromErrno("chmod " + entry.path);
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = entry.mtime;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  (void)::futimens(fd.get(), times);
  return Status::Ok();
}

Status Unpacker::Apply(TarReader* reader, const TarEntry& entry) {
  if (++stats_->entries > limits_.max_entries) {
    return Status::InvalidArgument("image has more than " + std::to_string(limits_.max_entries) +
                                   " entries");
  }
  auto parts_or = SplitEntryPath(entry.path);
  if (!parts_or.ok()) return parts_or.status();
  const auto& parts = *parts_or;
  if (parts.empty()) return Status::Ok();  // "./" itself: the rootfs keeps its own mode
  if (parts.size() > kMaxDepth) {
    return Status::InvalidArgument("tar entry nested deeper than " + std::to_string(kMaxDepth) +
                                   " directories: " + entry.path.substr(0, 200));
  }
  const std::string& base = parts.back();
  std::string joined = Join(parts, parts.size());

  if (base.rfind(".wh.", 0) == 0) {
    auto dir = OpenDir(parts, parts.size() - 1, false);
    if (!dir.ok()) return Status::Ok();  // nothing below to hide
    std::string parent = Join(parts, parts.size() - 1);
    if (base == ".wh..wh..opq") {
      Fd list(::openat(dir->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (list.get() < 0) return Status::FromErrno("open " + parent);
      DIR* d = ::fdopendir(list.release());
      if (!d) return Status::FromErrno("opendir " + parent);
      std::vector<std::string> children;
      while (struct dirent* e = ::readdir(d)) {
        std::string child = e->d_name;
        if (child == "." || child == "..") continue;
        std::string path = parent.empty() ? child : parent + "/" + child;
        if (!this_layer_.count(path)) children.push_back(child);
      }
      Status status;
      for (const auto& child : children) {
        status = RemoveAt(::dirfd(d), child);
        if (!status.ok()) break;
      }
      ::closedir(d);
      return status;
    }
    std::string hidden = base.substr(4);
    if (hidden.empty() || hidden == "." || hidden == "..") {
      return Status::InvalidArgument("bad whiteout " + entry.path);
    }
    return RemoveAt(dir->get(), hidden);
  }

  auto dir = OpenDir(parts, parts.size() - 1, true);
  if (!dir.ok()) return dir.status().WithContext("tar entry " + entry.path);
  int dir_fd = dir->get();
  this_layer_.insert(joined);

  struct stat existing;
  bool exists = ::fstatat(dir_fd, base.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && !(entry.type == '5' && S_ISDIR(existing.st_mode))) {
    HANEUL_RETURN_IF_ERROR(RemoveAt(dir_fd, base));
  }

  switch (entry.type) {
    case '0':
      return WriteFile(reader, dir_fd, base, entry);
    case '5': {
      if (!exists || !S_ISDIR(existing.st_mode)) {
        if (::mkdirat(dir_fd, base.c_str(), 0700) != 0) return Status::FromErrno("mkdir " + entry.path);
      }
      SetOwnerAndTimes(dir_fd, base, entry);
      // Unprivileged unpack must still be able to fill (and later delete) the directory.
      uint32_t mode = root_ ? entry.mode : (entry.mode | 0700);
      Fd d(::openat(dir_fd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (d.get() < 0 || ::fchmod(d.get(), mode) != 0) return Status::FromErrno("chmod " + entry.path);
      return Status::Ok();
    }
    case '2':
      if (entry.link.empty()) return Status::InvalidArgument("empty symlink target: " + entry.path);
      if (::symlinkat(entry.link.c_str(), dir_fd, base.c_str()) != 0) {
        return Status::FromErrno("symlink " + entry.path);
      }
      SetOwnerAndTimes(dir_fd, base, entry);
      return Status::Ok();
    case '1': {
      auto target_parts = SplitEntryPath(entry.link);
      if (!target_parts.ok()) return target_parts.status();
      if (target_parts->empty()) return Status::InvalidArgument("bad hard link " + entry.path);
      auto target_dir = OpenDir(*target_parts, target_parts->size() - 1, false);
      if (!target_dir.ok()) {
        return Status::InvalidArgument("hard link " + entry.path + " to a missing entry " + entry.link);
      }
      struct stat target;
      const std::string& target_name = target_parts->back();
      if (::fstatat(target_dir->get(), target_name.c_str(), &target, AT_SYMLINK_NOFOLLOW) != 0 ||
          S_ISDIR(target.st_mode)) {
        return Status::InvalidArgument("hard link " + entry.path + " to a missing entry " + entry.link);
      }
      if (::linkat(target_dir->get(), target_name.c_str(), dir_fd, base.c_str(), 0) != 0) {
        return Status::FromErrno("link " + entry.path);
      }
      return Status::Ok();
    }
    default:
      // Devices and fifos ('3', '4', '6') are never created; unknown types are skipped.
      ++stats_->skipped;
      return Status::Ok();
  }
}

}  // namespace

namespace {

// Hashes what passes through.
class HashingSource : public ByteSource {
 public:
  explicit HashingSource(ByteSource* inner) : inner_(inner) {}
  Result<size_t> Read(char* buffer, size_t size) override {
    auto n = inner_->Read(buffer, size);
    if (n.ok()) hash_.Update(buffer, *n);
    return n;
  }
  std::string Digest() { return "sha256:" + hash_.FinishHex(); }

 private:
  ByteSource* inner_;
  Sha256 hash_;
};

}  // namespace

Status ApplyLayer(ByteSource* layer, int rootfs_fd, const UnpackLimits& limits,
                  UnpackStats* stats, const std::string& diff_id) {
  auto decompressed = Decompressed(Borrowed(layer));
  if (!decompressed.ok()) return decompressed.status();
  HashingSource hashing(decompressed->get());
  ByteSource* source = &hashing;
  TarReader reader(source, limits);
  Unpacker unpacker(rootfs_fd, limits, stats);
  TarEntry entry;
  for (;;) {
    auto more = reader.Next(&entry);
    if (!more.ok()) return more.status();
    if (!*more) break;
    HANEUL_RETURN_IF_ERROR(unpacker.Apply(&reader, entry));
  }
  // Drain what follows the end marker so a truncated compressed stream is still detected.
  char buffer[4096];
  for (;;) {
    auto n = source->Read(buffer, sizeof(buffer));
    if (!n.ok()) return n.status();
    if (*n == 0) break;
  }
  if (!diff_id.empty()) {
    std::string got = hashing.Digest();
    if (got != diff_id) {
      return Status::Corruption("layer diff_id mismatch: the config says " + diff_id +
                                ", the uncompressed layer is " + got);
    }
  }
  return Status::Ok();
}

Status RemoveTree(const std::string& path) {
  std::string parent = ".", name = path;
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos) {
    parent = slash == 0 ? "/" : path.substr(0, slash);
    name = path.substr(slash + 1);
  }
  Fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return errno == ENOENT ? Status::Ok() : Status::FromErrno("open " + parent);
  return RemoveAt(dir.get(), name);
}

}  // namespace haneul::images

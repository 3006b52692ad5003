// CodeStore over libzip.
#include "code_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <filesystem>
#include <memory>

#include "haneul/common/ids.h"

namespace haneul::invoker {

namespace fs = std::filesystem;

namespace {

Status WriteFileSynced(const std::string& path, const std::string& data) {
  std::string temporary = path + ".tmp";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create " + temporary);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      int saved = errno;
      close(fd);
      return Status::FromErrno("write " + temporary, saved);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int saved = errno;
    close(fd);
    return Status::FromErrno("fsync " + temporary, saved);
  }
  close(fd);
  if (rename(temporary.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + path);
  return Status::Ok();
}

bool SafeRelativePath(const std::string& name) {
  if (name.empty() || name[0] == '/') return false;
  fs::path path(name);
  for (const auto& part : path) {
    if (part == "..") return false;
  }
  return true;
}

}  // namespace

std::string CodeStore::ZipPath(const std::string& code_id) const {
  return directory_ + "/" + code_id + ".zip";
}

bool CodeStore::Put(const std::string& zip, std::string* code_id, AwsError* error) {
  if (zip.size() > kMaxZipBytes) {
    *error = {413, "RequestEntityTooLargeException",
              "Request must be smaller than " + std::to_string(kMaxZipBytes) +
                  " bytes for the CreateFunction operation"};
    return false;
  }
  // Open from memory first: a bad zip is refused before anything touches the disk.
  zip_error_t zip_error;
  zip_error_init(&zip_error);
  zip_source_t* source = zip_source_buffer_create(zip.data(), zip.size(), 0, &zip_error);
  zip_t* archive = source ? zip_open_from_source(source, ZIP_RDONLY, &zip_error) : nullptr;
  if (!archive) {
    if (source) zip_source_free(source);
    zip_error_fini(&zip_error);
    *error = AwsError::InvalidParameterValue(
        "Could not unzip uploaded file. Please check your file, then try to upload again.");
    return false;
  }
  uint64_t total = 0;
  zip_int64_t entries = zip_get_num_entries(archive, 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    zip_stat_t stat;
    if (zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &stat) != 0) continue;
    total += stat.size;
  }
  zip_close(archive);
  zip_error_fini(&zip_error);
  if (total > kMaxUnzippedBytes) {
    *error = AwsError::InvalidParameterValue("Unzipped size must be smaller than " +
                                             std::to_string(kMaxUnzippedBytes) + " bytes");
    return false;
  }
  *code_id = Sha256Hex(zip);
  std::error_code ec;
  fs::create_directories(directory_, ec);
  std::string path = ZipPath(*code_id);
  if (!fs::exists(path)) {
    Status status = WriteFileSynced(path, zip);
    if (!status.ok()) {
      *error = AwsError::Service("storing code: " + status.message());
      return false;
    }
  }
  auto unpacked = Directory(*code_id);
  if (!unpacked.ok()) {
    *error = AwsError::InvalidParameterValue(
        "Could not unzip uploaded file. Please check your file, then try to upload again. (" +
        unpacked.status().message() + ")");
    return false;
  }
  return true;
}

Result<std::string> CodeStore::Directory(const std::string& code_id) {
  std::string target = directory_ + "/" + code_id;
  // Asked on every invocation: remember what is known to be unpacked, so the warm path does no
  // filesystem work.
  if (unpacked_.count(code_id)) return target;
  if (fs::exists(target + "/.complete")) {
    unpacked_.insert(code_id);
    return target;
  }
  std::error_code ec;
  fs::remove_all(target, ec);
  std::string staging = target + ".unpacking";
  fs::remove_all(staging, ec);
  HANEUL_RETURN_IF_ERROR(Unpack(ZipPath(code_id), staging));
  // A marker file, then an atomic rename: a crash mid-unpack never leaves a half folder in use.
  int fd = open((staging + "/.complete").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
  if (fd >= 0) close(fd);
  if (rename(staging.c_str(), target.c_str()) != 0) return Status::FromErrno("rename " + target);
  unpacked_.insert(code_id);
  return target;
}

Status CodeStore::Unpack(const std::string& zip_path, const std::string& target) {
  int zip_error_code = 0;
  zip_t* archive = zip_open(zip_path.c_str(), ZIP_RDONLY, &zip_error_code);
  if (!archive) return Status::Corruption("cannot open " + zip_path);
  std::unique_ptr<zip_t, int (*)(zip_t*)> closer(archive, zip_close);
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) return Status::IoError("mkdir " + target + ": " + ec.message());
  zip_int64_t entries = zip_get_num_entries(archive, 0);
  std::string buffer(1 << 16, '\0');
  for (zip_int64_t i = 0; i < entries; ++i) {
    auto index = static_cast<zip_uint64_t>(i);
    const char* raw_name = zip_get_name(archive, index, 0);
    if (!raw_name) continue;
    std::string name(raw_name);
    if (!SafeRelativePath(name)) return Status::InvalidArgument("unsafe path in zip: " + name);
    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    zip_file_get_external_attributes(archive, index, 0, &opsys, &attributes);
    mode_t mode = opsys == ZIP_OPSYS_UNIX ? (attributes >> 16) : 0;
    std::string path = target + "/" + name;
    if (name.back() == '/' || S_ISDIR(mode)) {
      fs::create_directories(path, ec);
      continue;
    }
    if (S_ISLNK(mode)) continue;  // links could point out of the package: not unpacked
    fs::create_directories(fs::path(path).parent_path(), ec);
    zip_file_t* file = zip_fopen_index(archive, index, 0);
    if (!file) return Status::Corruption("cannot read " + name + " in zip");
    mode_t permissions = (mode & 0777) ? (mode & 0755) | 0444 : 0644;
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, permissions);
    if (fd < 0) {
      zip_fclose(file);
      return Status::FromErrno("create " + path);
    }
    zip_int64_t n;
    while ((n = zip_fread(file, buffer.data(), buffer.size())) > 0) {
      if (write(fd, buffer.data(), static_cast<size_t>(n)) != n) {
        close(fd);
        zip_fclose(file);
        return Status::FromErrno("write " + path);
      }
    }
    close(fd);
    zip_fclose(file);
    if (n < 0) return Status::Corruption("bad data for " + name + " in zip");
    chmod(path.c_str(), permissions);
  }
  // Folders readable by the sandbox's unprivileged user whatever the server's umask was.
  for (const auto& entry : fs::recursive_directory_iterator(target, ec)) {
    if (entry.is_directory(ec)) chmod(entry.path().c_str(), 0755);
  }
  chmod(target.c_str(), 0755);
  return Status::Ok();
}

}  // namespace haneul::invoker

// The backend table and the snapshot metadata format (see snapshotter.h).
#include "haneul/snapshot/snapshotter.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "haneul/common/ids.h"

#ifdef HANEUL_WITH_FORK_SERVER_SNAPSHOT
#include "fork_server/fork_server.h"
#endif
#ifdef HANEUL_WITH_CRIU_SNAPSHOT
#include "criu/criu.h"
#endif

namespace haneul::snapshot {

namespace {

constexpr char kMagic[8] = {'H', 'N', 'L', 'S', 'N', 'A', 'P', '\0'};
constexpr size_t kHeaderBytes = sizeof(kMagic) + 4 + 4;
constexpr size_t kChecksumBytes = 64;

void PutU32(std::string* out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint32_t GetU32(std::string_view bytes, size_t at) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return value;
}

}  // namespace

namespace {

// Runs a shell command line, returning its exit status and its output (stdout and stderr).
// The output goes through a temporary file and the status comes from waiting for the shell, not
// from end-of-file on a pipe: a pipe's write end can leak into processes other threads fork
// meanwhile (the namespace sandbox pre-starts workers), and its end-of-file would never come.
int RunCommand(const std::string& command, std::string* output) {
  char path[] = "/tmp/haneul-probe-XXXXXX";
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0) return -1;
  close(fd);
  int status = std::system((command + " >" + path + " 2>&1 </dev/null").c_str());
  std::ifstream in(path, std::ios::binary);
  output->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  unlink(path);
  return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

std::string CriuBinary() {
  if (const char* forced = std::getenv("HANEUL_CRIU"); forced && *forced) return forced;
  for (const char* candidate : {"/usr/local/sbin/criu", "/usr/sbin/criu", "/usr/bin/criu"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

Status ProbeCriu() {
  std::string criu = CriuBinary();
  if (criu.empty()) {
    return Status::Unavailable("criu is not installed (scripts/build-criu.sh builds CRIU 4.1.1)");
  }
  std::string version_text;
  RunCommand(criu + " --version", &version_text);
  int major = 0;
  int minor = 0;
  auto at = version_text.find("Version:");
  if (at == std::string::npos ||
      std::sscanf(version_text.c_str() + at, "Version: %d.%d", &major, &minor) != 2) {
    return Status::Unavailable(criu + " --version said nothing usable");
  }
  if (major < 4 || (major == 4 && minor < 1)) {
    return Status::Unavailable(criu + " is " + std::to_string(major) + "." +
                               std::to_string(minor) +
                               "; 4.1 or later is needed on this kernel (scripts/build-criu.sh)");
  }
  std::string check;
  int status = RunCommand(criu + " check", &check);
  if (status != 0) {
    while (!check.empty() && (check.back() == '\n' || check.back() == ' ')) check.pop_back();
    auto last = check.rfind('\n');
    return Status::Unavailable(criu + " check failed: " +
                               (last == std::string::npos ? check : check.substr(last + 1)));
  }
  return Status::Ok();
}

std::vector<std::string> SnapshotBackends() {
  std::vector<std::string> names;
#ifdef HANEUL_WITH_FORK_SERVER_SNAPSHOT
  names.push_back("fork-server");
#endif
#ifdef HANEUL_WITH_CRIU_SNAPSHOT
  names.push_back("criu");
#endif
  names.push_back("auto");
  return names;
}

namespace {

// "auto": fork-server for the runtimes it can fork, criu for Node (threads). A runtime whose
// backend is missing gets one whose Capture fails with the reason, so its version goes Failed
// saying why.
class UnavailableSnapshotter : public Snapshotter {
 public:
  explicit UnavailableSnapshotter(std::string why) : why_(std::move(why)) {}
  std::string name() const override { return "unavailable"; }
  void PrepareTemplate(sandbox::WorkerSpec*) override {}
  Result<std::unique_ptr<Template>> Capture(sandbox::Worker&, const sandbox::WorkerSpec&) override {
    return Status::Unavailable(why_);
  }

 private:
  std::string why_;
};

class AutoSnapshotter : public Snapshotter {
 public:
  AutoSnapshotter(Result<std::unique_ptr<Snapshotter>> fork, Result<std::unique_ptr<Snapshotter>> criu)
      : fork_(Own(std::move(fork), "fork-server")), criu_(Own(std::move(criu), "criu")) {}

  std::string name() const override { return "auto"; }
  Snapshotter* ForRuntime(const std::string& runtime) override {
    return runtime.starts_with("nodejs") ? criu_.get() : fork_.get();
  }
  void PrepareTemplate(sandbox::WorkerSpec* spec) override { fork_->PrepareTemplate(spec); }
  Result<std::unique_ptr<Template>> Capture(sandbox::Worker& worker,
                                            const sandbox::WorkerSpec& spec) override {
    return fork_->Capture(worker, spec);
  }
  sandbox::Sandbox* template_sandbox() override { return fork_->template_sandbox(); }

 private:
  static std::unique_ptr<Snapshotter> Own(Result<std::unique_ptr<Snapshotter>> made,
                                          const std::string& name) {
    if (made.ok()) return std::move(*made);
    return std::make_unique<UnavailableSnapshotter>("the " + name + " snapshot backend is unavailable: " +
                                                    made.status().message());
  }

  std::unique_ptr<Snapshotter> fork_;
  std::unique_ptr<Snapshotter> criu_;
};

}  // namespace

Result<std::unique_ptr<Snapshotter>> MakeSnapshotter(const std::string& name,
                                                     const SnapshotterOptions& options) {
#ifdef HANEUL_WITH_FORK_SERVER_SNAPSHOT
  if (name == "fork-server") return fork_server::MakeForkServerSnapshotter(options);
#endif
#ifdef HANEUL_WITH_CRIU_SNAPSHOT
  if (name == "criu") return criu::MakeCriuSnapshotter(options);
#else
  if (name == "criu") {
    return Status::Unavailable("the criu snapshot backend is not built into this haneul");
  }
#endif
  if (name == "auto") {
    return std::unique_ptr<Snapshotter>(
        new AutoSnapshotter(MakeSnapshotter("fork-server", options), MakeSnapshotter("criu", options)));
  }
  return Status::InvalidArgument("unknown snapshot backend '" + name + "'");
}

std::string EncodeMetadata(const SnapshotMetadata& metadata) {
  std::string payload = nlohmann::json{{"function", metadata.function},
                                       {"version", metadata.version},
                                       {"backend", metadata.backend},
                                       {"code_sha256", metadata.code_sha256},
                                       {"revision", metadata.revision},
                                       {"created_unix_ms", metadata.created_unix_ms}}
                            .dump();
  std::string out(kMagic, sizeof(kMagic));
  PutU32(&out, kMetadataFormatVersion);
  PutU32(&out, static_cast<uint32_t>(payload.size()));
  out += payload;
  out += Sha256Hex(payload);
  return out;
}

Result<SnapshotMetadata> DecodeMetadata(std::string_view bytes) {
  if (bytes.size() < kHeaderBytes + kChecksumBytes) {
    return Status::Corruption("snapshot metadata is truncated (" + std::to_string(bytes.size()) +
                              " bytes)");
  }
  if (bytes.substr(0, sizeof(kMagic)) != std::string_view(kMagic, sizeof(kMagic))) {
    return Status::Corruption("not a snapshot metadata file (bad magic)");
  }
  uint32_t format = GetU32(bytes, sizeof(kMagic));
  if (format != kMetadataFormatVersion) {
    return Status::Corruption("snapshot metadata format " + std::to_string(format) +
                              " is not this haneul's (" +
                              std::to_string(kMetadataFormatVersion) + ")");
  }
  uint32_t length = GetU32(bytes, sizeof(kMagic) + 4);
  if (length > kMaxMetadataBytes) {
    return Status::Corruption("snapshot metadata payload of " + std::to_string(length) +
                              " bytes is over the limit");
  }
  if (bytes.size() != kHeaderBytes + length + kChecksumBytes) {
    return Status::Corruption("snapshot metadata is truncated or has trailing bytes");
  }
  std::string_view payload = bytes.substr(kHeaderBytes, length);
  if (Sha256Hex(payload) != bytes.substr(kHeaderBytes + length)) {
    return Status::Corruption("snapshot metadata checksum mismatch");
  }
  auto json = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::Corruption("snapshot metadata payload is not an object");
  SnapshotMetadata metadata;
  auto text = [&](const char* key, std::string* out) {
    auto it = json.find(key);
    if (it == json.end() || !it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  auto revision = json.find("revision");
  auto created = json.find("created_unix_ms");
  if (!text("function", &metadata.function) || !text("version", &metadata.version) ||
      !text("backend", &metadata.backend) || !text("code_sha256", &metadata.code_sha256) ||
      revision == json.end() || !revision->is_number_unsigned() || created == json.end() ||
      !created->is_number_integer()) {
    return Status::Corruption("snapshot metadata payload lacks a field");
  }
  metadata.revision = revision->get<uint64_t>();
  metadata.created_unix_ms = created->get<int64_t>();
  return metadata;
}

Status WriteMetadataFile(const std::string& path, const SnapshotMetadata& metadata) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError("cannot write " + temporary);
    std::string bytes = EncodeMetadata(metadata);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return Status::IoError("cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return Status::FromErrno("rename " + temporary);
  }
  return Status::Ok();
}

Result<SnapshotMetadata> ReadMetadataFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("no snapshot metadata at " + path);
  std::string bytes;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    bytes.append(buffer, static_cast<size_t>(in.gcount()));
    if (bytes.size() > kHeaderBytes + kMaxMetadataBytes + kChecksumBytes) {
      return Status::Corruption("snapshot metadata file " + path + " is too large");
    }
  }
  auto decoded = DecodeMetadata(bytes);
  if (!decoded.ok()) return Status::Corruption(path + ": " + decoded.status().message());
  return decoded;
}

}  // namespace haneul::snapshot

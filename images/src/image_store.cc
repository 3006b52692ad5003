// The image store: index, pull, push, import, export, build, unpack, GC. See image_store.h.
//
// On disk, under the store directory:
//   version            "1": the layout version; a newer one is refused
//   index.json         {"version":1,"images":{NAME:{"digest":MANIFEST,"created":MS}}}
//   blobs/sha256/HEX   manifests, configs and layers, verified on write
//   rootfs/HEX/        a manifest's unpacked rootfs (renamed in complete, from rootfs/.tmp-*)
//   tmp/               temp files on their way into blobs/
//   lock, index.lock   flock(2) files: GC takes `lock` exclusively, everything else shared;
//                      index read-modify-writes take `index.lock` exclusively.
#include "haneul/images/image_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "blob_store.h"
#include "haneul/common/ids.h"
#include "layer.h"
#include "oci.h"
#include "registry.h"
#include "tar_writer.h"

namespace haneul::images {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kLayoutVersion = 1;
constexpr char kRefName[] = "org.opencontainers.image.ref.name";

// An flock(2) held for the object's lifetime.
class FileLock {
 public:
  FileLock(const std::string& path, int operation) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) {
      while (::flock(fd_, operation) != 0 && errno == EINTR) {
      }
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

Status WriteFileAtomic(const std::string& path, const std::string& data) {
  std::string temp = path + ".tmp-" + RandomHex(8);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create " + temp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      Status s = Status::FromErrno("write " + temp);
      ::close(fd);
      ::unlink(temp.c_str());
      return s;
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) {
    Status s = Status::FromErrno("fsync " + temp);
    ::close(fd);
    ::unlink(temp.c_str());
    return s;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    Status s = Status::FromErrno("rename " + temp);
    ::unlink(temp.c_str());
    return s;
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path, size_t max = 8 << 20) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::string data;
  char buffer[1 << 14];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    data.append(buffer, static_cast<size_t>(in.gcount()));
    if (data.size() > max) return Status::InvalidArgument(path + " is too large");
  }
  return data;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool IsLocalSource(const std::string& uri) {
  return StartsWith(uri, "oci:") || StartsWith(uri, "oci-archive:") ||
         StartsWith(uri, "docker-archive:");
}

// Splits "PATH[:TAG]" where PATH may itself hold colons: the tag is the part after the last
// colon when PATH without it exists and the tag has no slash.
void SplitPathTag(const std::string& text, std::string* path, std::string* tag) {
  *path = text;
  tag->clear();
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return;
  std::string candidate = text.substr(colon + 1);
  if (candidate.find('/') != std::string::npos) return;
  std::error_code ec;
  if (fs::exists(text, ec) && !fs::exists(text.substr(0, colon), ec)) return;
  *path = text.substr(0, colon);
  *tag = candidate;
}

// The layer media type by the blob's magic bytes.
std::string SniffLayerType(BlobStore* blobs, const std::string& digest) {
  auto source = blobs->Open(digest);
  if (!source.ok()) return kOciLayerTar;
  unsigned char magic[4] = {};
  auto n = (*source)->Read(reinterpret_cast<char*>(magic), 4);
  if (n.ok() && *n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) return kOciLayerGzip;
  if (n.ok() && *n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f &&
      magic[3] == 0xfd) {
    return kOciLayerZstd;
  }
  return kOciLayerTar;
}

std::string NormalizeArchivePath(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

json ToJsonArray(const std::vector<std::string>& values) {
  json out = json::array();
  for (const auto& v : values) out.push_back(v);
  return out;
}

}  // namespace

std::string RegistryReference::ToString() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty() && digest.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<RegistryReference> ParseRegistryReference(const std::string& text) {
  RegistryReference ref;
  std::string rest = text;
  if (rest.empty() || rest.size() > 512) return Status::InvalidArgument("invalid image reference '" + text + "'");
  size_t at = rest.find('@');
  if (at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!IsValidDigest(ref.digest)) {
      return Status::InvalidArgument("image reference '" + text + "' has an unsupported digest");
    }
  }
  size_t slash = rest.find('/');
  std::string first = rest.substr(0, slash);
  if (slash != std::string::npos &&
      (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
       first == "localhost" || first[0] == '[')) {
    ref.registry = first;
    rest = rest.substr(slash + 1);
  } else {
    ref.registry = "registry-1.docker.io";
    if (rest.find('/') == std::string::npos) rest = "library/" + rest;
  }
  if (ref.registry == "docker.io" || ref.registry == "index.docker.io") {
    ref.registry = "registry-1.docker.io";
    if (rest.find('/') == std::string::npos) rest = "library/" + rest;
  }
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) {
    ref.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (ref.tag.empty() || ref.tag.size() > 128) {
      return Status::InvalidArgument("image reference '" + text + "' has an invalid tag");
    }
    for (char c : ref.tag) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
        return Status::InvalidArgument("image reference '" + text + "' has an invalid tag");
      }
    }
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  if (rest.empty()) return Status::InvalidArgument("invalid image reference '" + text + "'");
  for (char c : rest) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '.' || c == '_' || c == '-' || c == '/')) {
      return Status::InvalidArgument("invalid repository name in image reference '" + text + "'");
    }
  }
  ref.repository = rest;
  return ref;
}

ImageConfig ApplyOverrides(ImageConfig base, const LambdaImageOverrides& overrides) {
  if (overrides.entry_point) {
    base.entrypoint = *overrides.entry_point;
    if (!overrides.command) base.cmd.clear();
  }
  if (overrides.command) base.cmd = *overrides.command;
  if (overrides.working_directory) base.working_dir = *overrides.working_directory;
  return base;
}

std::vector<std::string> Argv(const ImageConfig& config) {
  std::vector<std::string> argv = config.entrypoint;
  argv.insert(argv.end(), config.cmd.begin(), config.cmd.end());
  return argv;
}

struct ImageStore::Impl {
  std::string dir;
  StoreOptions options;
  BlobStore blobs;
  RegistryClient registry;
  std::mutex unpack_mutex;

  Impl(std::string d, StoreOptions o)
      : dir(std::move(d)), options(std::move(o)), blobs(dir), registry(options) {}

  std::string LockPath() const { return dir + "/lock"; }
  std::string RootfsPath(const std::string& digest) const { return dir + "/rootfs/" + DigestHex(digest); }

  // --- the index -------------------------------------------------------------------------
  Result<json> LoadIndex() {
    auto text = ReadFile(dir + "/index.json");
    if (!text.ok()) return json{{"version", kLayoutVersion}, {"images", json::object()}};
    json index = json::parse(*text, nullptr, false);
    if (!index.is_object() || !index.contains("images") || !index["images"].is_object()) {
      return Status::Corruption(dir + "/index.json is corrupt");
    }
    if (index.value("version", 0) > kLayoutVersion) {
      return Status::InvalidArgument(dir + "/index.json has a newer version than this haneul reads");
    }
    return index;
  }

  Status Record(const std::string& name, const std::string& digest) {
    FileLock lock(dir + "/index.lock", LOCK_EX);
    auto index = LoadIndex();
    if (!index.ok()) return index.status();
    (*index)["images"][name] = {{"digest", digest}, {"created", NowUnixMillis()}};
    (*index)["version"] = kLayoutVersion;
    return WriteFileAtomic(dir + "/index.json", index->dump(2));
  }

  // The manifest digest recorded for a name (as given, or as a canonical registry reference).
  Result<std::string> Lookup(const std::string& name) {
    auto index = LoadIndex();
    if (!index.ok()) return index.status();
    const json& images = (*index)["images"];
    auto it = images.find(name);
    if (it == images.end() && !IsLocalSource(name)) {
      auto ref = ParseRegistryReference(name);
      if (ref.ok()) it = images.find(ref->ToString());
    }
    if (it == images.end() || !it->is_object()) {
      return Status::NotFound("image " + name + " is not in the store");
    }
    return it->value("digest", "");
  }

  Result<Manifest> LoadManifest(const std::string& digest) {
    auto text = blobs.ReadSmall(digest);
    if (!text.ok()) return text.status();
    return ParseManifest(*text);
  }

  Result<ImageSummary> Summary(const std::string& name, const std::string& digest, int64_t created) {
    auto manifest = LoadManifest(digest);
    if (!manifest.ok()) return manifest.status();
    ImageSummary s;
    s.name = name;
    s.digest = digest;
    s.size = manifest->config.size;
    for (const auto& l : manifest->layers) s.size += l.size;
    s.created_unix_millis = created;
    struct stat st;
    s.unpacked = ::stat(RootfsPath(digest).c_str(), &st) == 0;
    return s;
  }

  Result<ImageSummary> SummaryOf(const std::string& name) {
    auto digest = Lookup(name);
    if (!digest.ok()) return digest.status();
    return Summary(name, *digest, NowUnixMillis());
  }

  // --- writing an image ------------------------------------------------------------------
  // Stores an OCI manifest for config + layers already in the store; returns its digest.
  Result<std::string> PutManifest(const Descriptor& config, const std::vector<Descriptor>& layers) {
    Manifest m;
    m.media_type = kOciManifest;
    m.config = config;
    m.layers = layers;
    return blobs.Put(ManifestJson(m));
  }

  // Checks that everything a manifest names is present and well-formed.
  Status Verify(const Manifest& m, const std::string& image) {
    auto config = blobs.ReadSmall(m.config.digest);
    if (!config.ok()) return config.status().WithContext("image " + image + " config");
    auto parsed = ParseConfig(*config);
    if (!parsed.ok()) return parsed.status().WithContext("image " + image);
    for (const auto& l : m.layers) {
      if (!blobs.Has(l.digest)) return Status::NotFound("image " + image + ": layer " + l.digest + " missing");
    }
    return Status::Ok();
  }

  // --- pull ------------------------------------------------------------------------------
  Result<ImageSummary> Pull(const std::string& text) {
    auto ref = ParseRegistryReference(text);
    if (!ref.ok()) return ref.status();
    std::string image = ref->ToString();
    FileLock lock(LockPath(), LOCK_SH);
    auto fetched = registry.GetManifest(*ref, ref->digest.empty() ? ref->tag : ref->digest);
    if (!fetched.ok()) return fetched.status();
    if (IsIndexType(fetched->media_type)) {
      auto index = ParseIndex(fetched->body);
      if (!index.ok()) return index.status().WithContext("image " + image);
      auto pick = PickPlatform(*index, image);
      if (!pick.ok()) return pick.status();
      fetched = registry.GetManifest(*ref, pick->digest);
      if (!fetched.ok()) return fetched.status();
      if (!IsManifestType(fetched->media_type)) {
        return Status::InvalidArgument("image " + image + ": platform entry is not an image manifest");
      }
    }
    auto manifest = ParseManifest(fetched->body);
    if (!manifest.ok()) return manifest.status().WithContext("image " + image);
    std::vector<Descriptor> wanted = manifest->layers;
    wanted.insert(wanted.begin(), manifest->config);
    HANEUL_RETURN_IF_ERROR(DownloadAll(*ref, wanted, image));
    auto stored = blobs.Put(fetched->body, fetched->digest);
    if (!stored.ok()) return stored.status();
    HANEUL_RETURN_IF_ERROR(Verify(*manifest, image));
    HANEUL_RETURN_IF_ERROR(Record(image, fetched->digest));
    return Summary(image, fetched->digest, NowUnixMillis());
  }

  Status DownloadAll(const RegistryReference& ref, const std::vector<Descriptor>& wanted,
                     const std::string& image) {
    std::atomic<size_t> next{0};
    std::mutex error_mutex;
    Status first_error;
    auto worker = [&] {
      for (;;) {
        size_t i = next++;
        if (i >= wanted.size()) return;
        {
          std::lock_guard<std::mutex> guard(error_mutex);
          if (!first_error.ok()) return;
        }
        Status s = registry.DownloadBlob(ref, wanted[i], &blobs, image);
        if (!s.ok()) {
          std::lock_guard<std::mutex> guard(error_mutex);
          if (first_error.ok()) first_error = s;
        }
      }
    };
    int threads = std::max(1, std::min<int>(options.download_concurrency, static_cast<int>(wanted.size())));
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    return first_error;
  }

  // --- import ----------------------------------------------------------------------------
  // Copies the manifest `entry` (or, for an index, its platform manifest) of an OCI layout.
  Result<std::string> ImportFromLayout(const std::function<Result<std::string>(const Descriptor&)>& fetch_small,
                                       const std::string& index_text, const std::string& tag,
                                       const std::string& image) {
    auto index = ParseIndex(index_text);
    if (!index.ok()) return index.status().WithContext(image + " index.json");
    Descriptor chosen;
    std::vector<std::string> tags;
    bool found = false;
    for (const auto& d : index->manifests) {
      auto name = d.annotations.find(kRefName);
      std::string t = name == d.annotations.end() ? "" : name->second;
      if (!t.empty()) tags.push_back(t);
      if (!tag.empty() && t == tag) {
        chosen = d;
        found = true;
      }
    }
    if (!found && tag.empty()) {
      if (index->manifests.size() == 1) {
        chosen = index->manifests[0];
        found = true;
      } else {
        auto pick = PickPlatform(*index, image);
        if (pick.ok()) {
          chosen = *pick;
          found = true;
        }
      }
    }
    if (!found) {
      std::string list;
      for (const auto& t : tags) list += (list.empty() ? "" : ", ") + t;
      return Status::NotFound(image + ": no image " + (tag.empty() ? "chosen" : "tagged '" + tag + "'") +
                              " in the layout (tags: " + (list.empty() ? "none" : list) + ")");
    }
    for (int depth = 0; depth < 4; ++depth) {
      auto text = fetch_small(chosen);
      if (!text.ok()) return text.status();
      std::string type = DetectMediaType(*text);
      if (IsIndexType(type)) {
        auto nested = ParseIndex(*text);
        if (!nested.ok()) return nested.status().WithContext(image);
        auto pick = PickPlatform(*nested, image);
        if (!pick.ok()) return pick.status();
        chosen = *pick;
        continue;
      }
      auto manifest = ParseManifest(*text);
      if (!manifest.ok()) return manifest.status().WithContext(image);
      return chosen.digest;
    }
    return Status::InvalidArgument(image + ": indexes nested too deeply");
  }

  Result<ImageSummary> ImportOciDir(const std::string& path, const std::string& tag,
                                    const std::string& source, const std::string& name) {
    auto index_text = ReadFile(path + "/index.json");
    if (!index_text.ok()) return Status::NotFound(source + ": not an OCI layout (no index.json)");
    auto copy = [&](const Descriptor& d) -> Status {
      auto in = OpenFileSource(path + "/blobs/sha256/" + DigestHex(d.digest));
      if (!in.ok()) return Status::NotFound(source + ": blob " + d.digest + " missing from the layout");
      auto got = blobs.Ingest(in->get(), d.digest, d.size);
      return got.ok() ? Status::Ok() : got.status().WithContext(source);
    };
    auto fetch_small = [&](const Descriptor& d) -> Result<std::string> {
      HANEUL_RETURN_IF_ERROR(copy(d));
      return blobs.ReadSmall(d.digest);
    };
    auto digest = ImportFromLayout(fetch_small, *index_text, tag, source);
    if (!digest.ok()) return digest.status();
    auto manifest = LoadManifest(*digest);
    if (!manifest.ok()) return manifest.status();
    HANEUL_RETURN_IF_ERROR(copy(manifest->config));
    for (const auto& l : manifest->layers) HANEUL_RETURN_IF_ERROR(copy(l));
    HANEUL_RETURN_IF_ERROR(Verify(*manifest, source));
    std::string recorded = !name.empty() ? name : source;
    HANEUL_RETURN_IF_ERROR(Record(recorded, *digest));
    return Summary(recorded, *digest, NowUnixMillis());
  }

  // Reads an archive (oci-archive or docker-archive) once: blobs/sha256/* and layer tars go
  // into the store as they stream past, small JSON files stay in memory.
  struct ArchiveContents {
    std::map<std::string, std::string> small;                      // path -> content
    std::map<std::string, std::pair<std::string, int64_t>> blobs;  // path -> digest, size
    std::map<std::string, std::string> links;                      // path -> target path
  };

  Result<ArchiveContents> ReadArchive(const std::string& path, const std::string& source) {
    auto file = OpenFileSource(path);
    if (!file.ok()) return file.status().WithContext(source);
    auto stream = Decompressed(std::move(*file));
    if (!stream.ok()) return stream.status();
    UnpackLimits limits = options.limits;
    limits.max_entry_bytes = std::max<int64_t>(limits.max_entry_bytes, 64LL << 30);
    TarReader reader(stream->get(), limits);
    ArchiveContents out;
    TarEntry entry;
    for (;;) {
      auto more = reader.Next(&entry);
      if (!more.ok()) return more.status().WithContext(source);
      if (!*more) break;
      std::string name = NormalizeArchivePath(entry.path);
      if (entry.type == '2' || entry.type == '1') {
        std::string target = entry.type == '2' && entry.link[0] != '/'
                                 ? NormalizeArchivePath(fs::path(name).parent_path().string() + "/" + entry.link)
                                 : NormalizeArchivePath(entry.link);
        out.links[name] = target;
        continue;
      }
      if (entry.type != '0') continue;
      bool is_blob = StartsWith(name, "blobs/sha256/") && IsValidDigest("sha256:" + name.substr(13));
      bool is_json = !is_blob && entry.size <= (8 << 20) &&
                     ((name.size() > 5 && name.substr(name.size() - 5) == ".json") || name == "oci-layout" ||
                      name == "repositories");
      if (is_json) {
        auto data = reader.ReadAll(8 << 20);
        if (!data.ok()) return data.status().WithContext(source);
        out.small[name] = *data;
        continue;
      }
      struct EntrySource : ByteSource {
        TarReader* r;
        Result<size_t> Read(char* b, size_t n) override { return r->ReadData(b, n); }
      } entry_source;
      entry_source.r = &reader;
      std::string expected = is_blob ? "sha256:" + name.substr(13) : "";
      auto digest = blobs.Ingest(&entry_source, expected, is_blob ? entry.size : -1);
      if (!digest.ok()) return digest.status().WithContext(source + " entry " + name);
      out.blobs[name] = {*digest, entry.size};
    }
    return out;
  }

  // The digest and size of an archive member stored as a blob (following links).
  Result<std::pair<std::string, int64_t>> ArchiveBlob(const ArchiveContents& a, std::string name,
                                                      const std::string& source) {
    name = NormalizeArchivePath(name);
    for (int i = 0; i < 8; ++i) {
      auto it = a.blobs.find(name);
      if (it != a.blobs.end()) return it->second;
      auto small = a.small.find(name);
      if (small != a.small.end()) {
        auto d = blobs.Put(small->second);
        if (!d.ok()) return d.status();
        return std::make_pair(*d, static_cast<int64_t>(small->second.size()));
      }
      auto link = a.links.find(name);
      if (link == a.links.end()) break;
      name = link->second;
    }
    return Status::NotFound(source + ": archive has no member " + name);
  }

  Result<ImageSummary> ImportArchive(const std::string& path, const std::string& tag, bool docker,
                                     const std::string& source, const std::string& name) {
    auto contents = ReadArchive(path, source);
    if (!contents.ok()) return contents.status();
    std::string digest, archive_tag;
    auto manifest_json = contents->small.find("manifest.json");
    if (docker || (contents->small.count("index.json") == 0 && manifest_json != contents->small.end())) {
      if (manifest_json == contents->small.end()) {
        return Status::InvalidArgument(source + ": not a docker archive (no manifest.json)");
      }
      json list = json::parse(manifest_json->second, nullptr, false);
      if (!list.is_array() || list.empty() || !list[0].is_object()) {
        return Status::InvalidArgument(source + ": manifest.json is not a list of images");
      }
      json chosen = list[0];
      if (!tag.empty()) {
        bool found = false;
        for (const auto& item : list) {
          if (!item.is_object() || !item.contains("RepoTags") || !item["RepoTags"].is_array()) continue;
          for (const auto& t : item["RepoTags"]) {
            if (t.is_string() && (t.get<std::string>() == tag ||
                                  t.get<std::string>().substr(t.get<std::string>().rfind(':') + 1) == tag)) {
              chosen = item;
              found = true;
            }
          }
        }
        if (!found) return Status::NotFound(source + ": no image tagged " + tag);
      }
      if (!chosen.contains("Config") || !chosen["Config"].is_string() || !chosen.contains("Layers") ||
          !chosen["Layers"].is_array()) {
        return Status::InvalidArgument(source + ": manifest.json entry lacks Config or Layers");
      }
      if (chosen.contains("RepoTags") && chosen["RepoTags"].is_array() && !chosen["RepoTags"].empty() &&
          chosen["RepoTags"][0].is_string()) {
        archive_tag = chosen["RepoTags"][0].get<std::string>();
      }
      auto config = ArchiveBlob(*contents, chosen["Config"].get<std::string>(), source);
      if (!config.ok()) return config.status();
      Descriptor config_d{kOciConfig, config->first, config->second};
      std::vector<Descriptor> layers;
      for (const auto& l : chosen["Layers"]) {
        if (!l.is_string()) return Status::InvalidArgument(source + ": bad Layers entry");
        auto blob = ArchiveBlob(*contents, l.get<std::string>(), source);
        if (!blob.ok()) return blob.status();
        layers.push_back(Descriptor{SniffLayerType(&blobs, blob->first), blob->first, blob->second});
      }
      auto d = PutManifest(config_d, layers);
      if (!d.ok()) return d.status();
      digest = *d;
    } else {
      auto index = contents->small.find("index.json");
      if (index == contents->small.end()) {
        return Status::InvalidArgument(source + ": not an OCI archive (no index.json)");
      }
      auto fetch_small = [&](const Descriptor& d) -> Result<std::string> {
        if (!blobs.Has(d.digest)) return Status::NotFound(source + ": blob " + d.digest + " missing");
        return blobs.ReadSmall(d.digest);
      };
      auto d = ImportFromLayout(fetch_small, index->second, tag, source);
      if (!d.ok()) return d.status();
      digest = *d;
    }
    auto manifest = LoadManifest(digest);
    if (!manifest.ok()) return manifest.status();
    HANEUL_RETURN_IF_ERROR(Verify(*manifest, source));
    std::string recorded = !name.empty() ? name : !archive_tag.empty() ? archive_tag : source;
    HANEUL_RETURN_IF_ERROR(Record(recorded, digest));
    return Summary(recorded, digest, NowUnixMillis());
  }

  Result<ImageSummary> Import(const std::string& source, const std::string& name) {
    FileLock lock(LockPath(), LOCK_SH);
    std::string path, tag;
    if (StartsWith(source, "oci:")) {
      SplitPathTag(source.substr(4), &path, &tag);
      std::error_code ec;
      if (fs::is_directory(path, ec)) return ImportOciDir(path, tag, source, name);
      return ImportArchive(path, tag, false, source, name);
    }
    if (StartsWith(source, "oci-archive:")) {
      SplitPathTag(source.substr(12), &path, &tag);
      return ImportArchive(path, tag, false, source, name);
    }
    if (StartsWith(source, "docker-archive:")) {
      SplitPathTag(source.substr(15), &path, &tag);
      return ImportArchive(path, tag, true, source, name);
    }
    return Status::InvalidArgument("unsupported image source '" + source +
                                   "' (want oci:PATH, oci-archive:PATH or docker-archive:PATH)");
  }

  // --- unpack ----------------------------------------------------------------------------
  Result<std::string> Unpack(const std::string& digest, const std::string& image) {
    std::string final_path = RootfsPath(digest);
    struct stat st;
    if (::stat(final_path.c_str(), &st) == 0) return final_path;
    std::lock_guard<std::mutex> guard(unpack_mutex);
    if (::stat(final_path.c_str(), &st) == 0) return final_path;
    auto manifest = LoadManifest(digest);
    if (!manifest.ok()) return manifest.status().WithContext("image " + image);
    std::string temp = dir + "/rootfs/.tmp-" + RandomHex(12);
    if (::mkdir(temp.c_str(), 0755) != 0) return Status::FromErrno("mkdir " + temp);
    int root_fd = ::open(temp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) return Status::FromErrno("open " + temp);
    // The config's diff_ids are checked when there is one per layer (as containerd does).
    auto config_text = blobs.ReadSmall(manifest->config.digest);
    std::vector<std::string> diff_ids;
    if (config_text.ok()) diff_ids = ParseDiffIds(*config_text);
    if (diff_ids.size() != manifest->layers.size()) diff_ids.assign(manifest->layers.size(), "");
    UnpackStats stats;
    Status status;
    for (size_t i = 0; i < manifest->layers.size() && status.ok(); ++i) {
      const auto& layer = manifest->layers[i];
      auto source = blobs.Open(layer.digest);
      if (!source.ok()) {
        status = source.status();
        break;
      }
      status = ApplyLayer(source->get(), root_fd, options.limits, &stats,
                          IsValidDigest(diff_ids[i]) ? diff_ids[i] : "");
      if (!status.ok()) {
        status = status.WithContext("image " + image + ": layer " + std::to_string(i + 1) + " (" +
                                    layer.digest + ")");
      }
    }
    if (status.ok() && ::fchmod(root_fd, 0755) != 0) status = Status::FromErrno("chmod rootfs");
    ::close(root_fd);
    if (status.ok() && ::rename(temp.c_str(), final_path.c_str()) != 0) {
      if (errno == EEXIST || errno == ENOTEMPTY) {
        (void)RemoveTree(temp);  // another process finished first: theirs is as good as ours
        return final_path;
      }
      status = Status::FromErrno("rename " + temp);
    }
    if (!status.ok()) {
      (void)RemoveTree(temp);
      return status;
    }
    return final_path;
  }
};

ImageStore::ImageStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImageStore::~ImageStore() = default;

const std::string& ImageStore::directory() const { return impl_->dir; }

Result<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& directory,
                                                     StoreOptions options) {
  std::error_code ec;
  fs::create_directories(directory + "/rootfs", ec);
  if (ec) return Status::IoError("create " + directory + "/rootfs: " + ec.message());
  auto impl = std::make_unique<Impl>(fs::absolute(directory).lexically_normal().string(), std::move(options));
  HANEUL_RETURN_IF_ERROR(impl->blobs.Init());
  std::string version_path = impl->dir + "/version";
  auto version = ReadFile(version_path);
  if (version.ok()) {
    int v = std::atoi(version->c_str());
    if (v <= 0 || v > kLayoutVersion) {
      return Status::InvalidArgument(directory + " is an image store of layout version '" + *version +
                                     "', this haneul reads version " + std::to_string(kLayoutVersion));
    }
  } else {
    HANEUL_RETURN_IF_ERROR(WriteFileAtomic(version_path, std::to_string(kLayoutVersion) + "\n"));
  }
  auto index = impl->LoadIndex();
  if (!index.ok()) return index.status();
  return std::unique_ptr<ImageStore>(new ImageStore(std::move(impl)));
}

Result<ResolvedImage> ImageStore::Resolve(const std::string& image_uri) {
  auto digest = impl_->Lookup(image_uri);
  if (!digest.ok()) {
    if (!digest.status().IsNotFound()) return digest.status();
    auto summary = IsLocalSource(image_uri) ? impl_->Import(image_uri, image_uri) : impl_->Pull(image_uri);
    if (!summary.ok()) return summary.status();
    digest = summary->digest;
  }
  FileLock lock(impl_->LockPath(), LOCK_SH);
  auto manifest = impl_->LoadManifest(*digest);
  if (!manifest.ok()) return manifest.status().WithContext("image " + image_uri);
  auto config_text = impl_->blobs.ReadSmall(manifest->config.digest);
  if (!config_text.ok()) return config_text.status().WithContext("image " + image_uri);
  auto config = ParseConfig(*config_text);
  if (!config.ok()) return config.status().WithContext("image " + image_uri);
  auto rootfs = impl_->Unpack(*digest, image_uri);
  if (!rootfs.ok()) return rootfs.status();
  ResolvedImage out;
  out.reference = image_uri;
  out.digest = *digest;
  out.rootfs = *rootfs;
  out.config = *config;
  return out;
}

Result<ImageSummary> ImageStore::Pull(const std::string& reference) { return impl_->Pull(reference); }

Result<ImageSummary> ImageStore::Import(const std::string& source, const std::string& name) {
  return impl_->Import(source, name);
}

Status ImageStore::Push(const std::string& name, const std::string& destination) {
  auto ref = ParseRegistryReference(destination);
  if (!ref.ok()) return ref.status();
  FileLock lock(impl_->LockPath(), LOCK_SH);
  auto digest = impl_->Lookup(name);
  if (!digest.ok()) return digest.status();
  auto body = impl_->blobs.ReadSmall(*digest);
  if (!body.ok()) return body.status();
  auto manifest = ParseManifest(*body);
  if (!manifest.ok()) return manifest.status();
  std::vector<Descriptor> all = manifest->layers;
  all.push_back(manifest->config);
  for (const auto& d : all) {
    HANEUL_RETURN_IF_ERROR(impl_->registry.UploadBlob(*ref, d.digest, impl_->blobs.Path(d.digest), d.size));
    if (impl_->options.progress) impl_->options.progress(d.digest.substr(7, 12), d.size, d.size);
  }
  return impl_->registry.PutManifest(*ref, ref->digest.empty() ? ref->tag : ref->digest, *body,
                                     manifest->media_type);
}

Status ImageStore::Export(const std::string& name, const std::string& directory,
                          const std::string& tag) {
  FileLock lock(impl_->LockPath(), LOCK_SH);
  auto digest = impl_->Lookup(name);
  if (!digest.ok()) return digest.status();
  auto body = impl_->blobs.ReadSmall(*digest);
  if (!body.ok()) return body.status();
  auto manifest = ParseManifest(*body);
  if (!manifest.ok()) return manifest.status();
  std::error_code ec;
  fs::create_directories(directory + "/blobs/sha256", ec);
  if (ec) return Status::IoError("create " + directory + ": " + ec.message());
  std::vector<std::string> digests = {*digest, manifest->config.digest};
  for (const auto& l : manifest->layers) digests.push_back(l.digest);
  for (const auto& d : digests) {
    std::string target = directory + "/blobs/sha256/" + DigestHex(d);
    if (fs::exists(target, ec)) continue;
    std::string temp = target + ".tmp";
    if (::link(impl_->blobs.Path(d).c_str(), temp.c_str()) != 0) {
      fs::copy_file(impl_->blobs.Path(d), temp, fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::IoError("copy blob " + d + ": " + ec.message());
    }
    if (::rename(temp.c_str(), target.c_str()) != 0) return Status::FromErrno("rename " + temp);
  }
  HANEUL_RETURN_IF_ERROR(WriteFileAtomic(directory + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", json::array()}};
  auto existing = ReadFile(directory + "/index.json");
  std::string ref_name = tag.empty() ? "latest" : tag;
  if (existing.ok()) {
    json old = json::parse(*existing, nullptr, false);
    if (old.is_object() && old.contains("manifests") && old["manifests"].is_array()) {
      for (const auto& m : old["manifests"]) {
        bool same = m.is_object() && m.contains("annotations") && m["annotations"].is_object() &&
                    m["annotations"].value(kRefName, "") == ref_name;
        if (!same) index["manifests"].push_back(m);
      }
    }
  }
  Descriptor d{manifest->media_type, *digest, static_cast<int64_t>(body->size())};
  d.annotations[kRefName] = ref_name;
  index["manifests"].push_back(DescriptorJson(d));
  return WriteFileAtomic(directory + "/index.json", index.dump());
}

Result<ImageSummary> ImageStore::Build(const BuildOptions& build) {
  if (build.tag.empty()) return Status::InvalidArgument("build needs a tag");
  std::error_code ec;
  if (!fs::is_directory(build.context_directory, ec)) {
    return Status::InvalidArgument("build folder " + build.context_directory + " is not a directory");
  }
  bool scratch = build.base.empty() || build.base == "scratch";
  json config = {{"architecture", HostArchitecture()},
                 {"os", "linux"},
                 {"config", json::object()},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}},
                 {"history", json::array()}};
  std::vector<Descriptor> layers;
  if (!scratch) {
    auto base = Resolve(build.base);
    if (!base.ok()) return base.status().WithContext("base image");
    auto manifest = impl_->LoadManifest(base->digest);
    if (!manifest.ok()) return manifest.status();
    auto text = impl_->blobs.ReadSmall(manifest->config.digest);
    if (!text.ok()) return text.status();
    config = json::parse(*text, nullptr, false);
    if (!config.is_object()) return Status::InvalidArgument("base image config is not JSON");
    layers = manifest->layers;
    if (!config.contains("config") || !config["config"].is_object()) config["config"] = json::object();
    if (!config.contains("rootfs") || !config["rootfs"].is_object()) {
      config["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    }
    if (!config.contains("history") || !config["history"].is_array()) config["history"] = json::array();
  }
  FileLock lock(impl_->LockPath(), LOCK_SH);
  std::string dest = build.destination.empty() ? (scratch ? "/" : "/var/task") : build.destination;
  std::string temp = impl_->blobs.TempPath();
  LayerWriter writer;
  Status status = writer.Open(temp);
  if (status.ok()) status = writer.AddTree(build.context_directory, dest);
  Result<LayerInfo> info = status.ok() ? writer.Finish() : Result<LayerInfo>(status);
  if (!info.ok()) {
    ::unlink(temp.c_str());
    return info.status();
  }
  HANEUL_RETURN_IF_ERROR(impl_->blobs.Commit(temp, info->digest));
  layers.push_back(Descriptor{kOciLayerGzip, info->digest, info->size});
  config["rootfs"]["diff_ids"].push_back(info->diff_id);
  json& c = config["config"];
  if (build.entrypoint) {
    c["Entrypoint"] = ToJsonArray(*build.entrypoint);
    if (!build.cmd) c.erase("Cmd");
  }
  if (build.cmd) c["Cmd"] = ToJsonArray(*build.cmd);
  if (build.working_dir) c["WorkingDir"] = *build.working_dir;
  if (!build.env.empty()) {
    std::vector<std::string> env;
    if (c.contains("Env") && c["Env"].is_array()) {
      for (const auto& e : c["Env"]) {
        if (e.is_string()) env.push_back(e.get<std::string>());
      }
    }
    for (const auto& add : build.env) {
      std::string key = add.substr(0, add.find('='));
      std::erase_if(env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
      env.push_back(add);
    }
    c["Env"] = ToJsonArray(env);
  }
  std::string created = IsoTimestamp(NowUnixMillis());
  config["created"] = created;
  config["history"].push_back({{"created", created},
                               {"created_by", "haneul image build " + build.context_directory + " " + dest}});
  std::string config_text = config.dump();
  auto config_digest = impl_->blobs.Put(config_text);
  if (!config_digest.ok()) return config_digest.status();
  auto digest = impl_->PutManifest(Descriptor{kOciConfig, *config_digest, static_cast<int64_t>(config_text.size())},
                                   layers);
  if (!digest.ok()) return digest.status();
  HANEUL_RETURN_IF_ERROR(impl_->Record(build.tag, *digest));
  return impl_->Summary(build.tag, *digest, NowUnixMillis());
}

Status ImageStore::Tag(const std::string& name, const std::string& new_name) {
  auto digest = impl_->Lookup(name);
  if (!digest.ok()) return digest.status();
  return impl_->Record(new_name, *digest);
}

std::vector<ImageSummary> ImageStore::List() {
  std::vector<ImageSummary> out;
  auto index = impl_->LoadIndex();
  if (!index.ok()) return out;
  for (auto& [name, entry] : (*index)["images"].items()) {
    if (!entry.is_object()) continue;
    auto s = impl_->Summary(name, entry.value("digest", ""), entry.value("created", int64_t{0}));
    if (s.ok()) out.push_back(*s);
  }
  return out;
}

Result<ImageSummary> ImageStore::Inspect(const std::string& name) { return impl_->SummaryOf(name); }

Result<ImageConfig> ImageStore::Config(const std::string& name) {
  auto digest = impl_->Lookup(name);
  if (!digest.ok()) return digest.status();
  auto manifest = impl_->LoadManifest(*digest);
  if (!manifest.ok()) return manifest.status();
  auto text = impl_->blobs.ReadSmall(manifest->config.digest);
  if (!text.ok()) return text.status();
  return ParseConfig(*text);
}

Status ImageStore::Remove(const std::string& name) {
  FileLock lock(impl_->dir + "/index.lock", LOCK_EX);
  auto index = impl_->LoadIndex();
  if (!index.ok()) return index.status();
  json& images = (*index)["images"];
  std::string key = name;
  if (!images.contains(key) && !IsLocalSource(name)) {
    auto ref = ParseRegistryReference(name);
    if (ref.ok()) key = ref->ToString();
  }
  if (!images.contains(key)) return Status::NotFound("image " + name + " is not in the store");
  images.erase(key);
  return WriteFileAtomic(impl_->dir + "/index.json", index->dump(2));
}

Result<int64_t> ImageStore::GarbageCollect() {
  FileLock lock(impl_->LockPath(), LOCK_EX);
  auto index = impl_->LoadIndex();
  if (!index.ok()) return index.status();
  std::set<std::string> keep_blobs, keep_rootfs;
  for (auto& [name, entry] : (*index)["images"].items()) {
    std::string digest = entry.is_object() ? entry.value("digest", "") : "";
    if (!IsValidDigest(digest)) continue;
    keep_blobs.insert(DigestHex(digest));
    keep_rootfs.insert(DigestHex(digest));
    auto manifest = impl_->LoadManifest(digest);
    if (!manifest.ok()) continue;
    keep_blobs.insert(DigestHex(manifest->config.digest));
    for (const auto& l : manifest->layers) keep_blobs.insert(DigestHex(l.digest));
  }
  int64_t freed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(impl_->dir + "/blobs/sha256", ec)) {
    std::string hex = e.path().filename().string();
    if (keep_blobs.count(hex)) continue;
    std::error_code size_ec;
    auto size = fs::file_size(e.path(), size_ec);
    if (::unlink(e.path().c_str()) == 0 && !size_ec) freed += static_cast<int64_t>(size);
  }
  for (const auto& e : fs::directory_iterator(impl_->dir + "/rootfs", ec)) {
    if (keep_rootfs.count(e.path().filename().string())) continue;
    HANEUL_RETURN_IF_ERROR(RemoveTree(e.path().string()));
  }
  // Nothing else holds the store (we hold `lock` exclusively): every temp file is stale.
  for (const auto& e : fs::directory_iterator(impl_->dir + "/tmp", ec)) {
    ::unlink(e.path().c_str());
  }
  return freed;
}

}  // namespace haneul::images

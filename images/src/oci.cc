// OCI / Docker schema 2 documents. See oci.h.
#include "oci.h"

#include <sys/utsname.h>

namespace haneul::images {

using nlohmann::json;

namespace {

std::optional<json> Parse(const std::string& text) {
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

std::string Str(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

Result<Descriptor> ParseDescriptor(const json& value, const std::string& what) {
  if (!value.is_object()) return Status::InvalidArgument(what + " is not an object");
  Descriptor d;
  d.media_type = Str(value, "mediaType");
  d.digest = Str(value, "digest");
  if (!IsValidDigest(d.digest)) {
    return Status::InvalidArgument(what + " has an unsupported digest '" + d.digest + "'");
  }
  auto size = value.find("size");
  if (size != value.end() && size->is_number_integer()) d.size = size->get<int64_t>();
  if (d.size < 0) return Status::InvalidArgument(what + " has no valid size");
  auto platform = value.find("platform");
  if (platform != value.end() && platform->is_object()) {
    d.os = Str(*platform, "os");
    d.architecture = Str(*platform, "architecture");
    d.variant = Str(*platform, "variant");
  }
  auto annotations = value.find("annotations");
  if (annotations != value.end() && annotations->is_object()) {
    for (auto& [k, v] : annotations->items()) {
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
    }
  }
  return d;
}

std::vector<std::string> StringList(const json& object, const char* key) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

bool IsManifestType(const std::string& t) { return t == kOciManifest || t == kDockerManifest; }
bool IsIndexType(const std::string& t) { return t == kOciIndex || t == kDockerList; }
bool IsLayerType(const std::string& t) {
  return t == kOciLayerTar || t == kOciLayerGzip || t == kOciLayerZstd || t == kDockerLayerGzip ||
         t == "application/vnd.docker.image.rootfs.diff.tar" ||
         t == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
         t == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

std::string DetectMediaType(const std::string& text) {
  auto value = Parse(text);
  if (!value) return "";
  std::string type = Str(*value, "mediaType");
  if (!type.empty()) return type;
  if (value->contains("manifests")) return kOciIndex;
  if (value->contains("layers") && value->contains("config")) return kOciManifest;
  if (value->contains("schemaVersion") && value->value("schemaVersion", 0) == 1) {
    return "application/vnd.docker.distribution.manifest.v1+json";
  }
  return "";
}

Result<Manifest> ParseManifest(const std::string& text) {
  auto value = Parse(text);
  if (!value) return Status::InvalidArgument("manifest is not a JSON object");
  Manifest m;
  m.media_type = DetectMediaType(text);
  if (!IsManifestType(m.media_type)) {
    return Status::InvalidArgument("unsupported manifest media type '" + m.media_type + "'");
  }
  auto config = value->find("config");
  if (config == value->end()) return Status::InvalidArgument("manifest has no config");
  auto cd = ParseDescriptor(*config, "manifest config");
  if (!cd.ok()) return cd.status();
  m.config = *cd;
  auto layers = value->find("layers");
  if (layers == value->end() || !layers->is_array()) {
    return Status::InvalidArgument("manifest has no layers array");
  }
  if (layers->size() > 1000) return Status::InvalidArgument("manifest has too many layers");
  for (const auto& layer : *layers) {
    auto d = ParseDescriptor(layer, "manifest layer");
    if (!d.ok()) return d.status();
    if (!IsLayerType(d->media_type)) {
      return Status::InvalidArgument("unsupported layer media type '" + d->media_type + "'");
    }
    m.layers.push_back(*d);
  }
  return m;
}

Result<Index> ParseIndex(const std::string& text) {
  auto value = Parse(text);
  if (!value) return Status::InvalidArgument("index is not a JSON object");
  auto manifests = value->find("manifests");
  if (manifests == value->end() || !manifests->is_array()) {
    return Status::InvalidArgument("index has no manifests array");
  }
  Index index;
  for (const auto& entry : *manifests) {
    auto d = ParseDescriptor(entry, "index entry");
    if (!d.ok()) return d.status();
    index.manifests.push_back(*d);
  }
  return index;
}

Result<ImageConfig> ParseConfig(const std::string& text) {
  auto value = Parse(text);
  if (!value) return Status::InvalidArgument("image config is not a JSON object");
  ImageConfig config;
  auto c = value->find("config");
  if (c != value->end() && c->is_object()) {
    config.entrypoint = StringList(*c, "Entrypoint");
    config.cmd = StringList(*c, "Cmd");
    config.env = StringList(*c, "Env");
    config.working_dir = Str(*c, "WorkingDir");
    config.user = Str(*c, "User");
  }
  return config;
}

std::vector<std::string> ParseDiffIds(const std::string& text) {
  auto value = Parse(text);
  if (!value) return {};
  auto rootfs = value->find("rootfs");
  if (rootfs == value->end() || !rootfs->is_object()) return {};
  return StringList(*rootfs, "diff_ids");
}

std::string HostArchitecture() {
  struct utsname u;
  std::string machine = ::uname(&u) == 0 ? u.machine : "x86_64";
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "armv7l") return "arm";
  return machine;
}

Result<Descriptor> PickPlatform(const Index& index, const std::string& image) {
  std::string arch = HostArchitecture();
  std::string seen;
  for (const auto& d : index.manifests) {
    if (d.os == "linux" && d.architecture == arch && IsManifestType(d.media_type.empty() ? kOciManifest : d.media_type)) {
      return d;
    }
    if (!d.os.empty()) seen += (seen.empty() ? "" : ", ") + d.os + "/" + d.architecture;
  }
  // An index without platforms (an OCI layout with one image) names its only manifest.
  if (index.manifests.size() == 1 && index.manifests[0].os.empty()) return index.manifests[0];
  return Status::NotFound("image " + image + " has no manifest for platform linux/" + arch +
                          (seen.empty() ? "" : " (it has " + seen + ")"));
}

json DescriptorJson(const Descriptor& d) {
  json out = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
  if (!d.annotations.empty()) out["annotations"] = d.annotations;
  if (!d.os.empty()) out["platform"] = {{"os", d.os}, {"architecture", d.architecture}};
  return out;
}

std::string ManifestJson(const Manifest& m) {
  json layers = json::array();
  for (const auto& l : m.layers) layers.push_back(DescriptorJson(l));
  json out = {{"schemaVersion", 2},
              {"mediaType", m.media_type.empty() ? kOciManifest : m.media_type},
              {"config", DescriptorJson(m.config)},
              {"layers", layers}};
  return out.dump();
}

}  // namespace haneul::images

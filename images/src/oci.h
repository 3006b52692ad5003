// OCI / Docker schema 2 documents: manifests, indexes (manifest lists), image configs, and
// the media types this store accepts. Pure functions over JSON text; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "haneul/images/image_store.h"
#include "stream.h"

namespace haneul::images {

inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kOciConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kOciLayerTar[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kOciLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kOciLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerList[] = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kDockerLayerGzip[] = "application/vnd.docker.image.rootfs.diff.tar.gzip";

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = -1;
  std::string os, architecture, variant;  // platform, in index entries
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct Index {
  std::vector<Descriptor> manifests;
};

bool IsManifestType(const std::string& media_type);
bool IsIndexType(const std::string& media_type);
bool IsLayerType(const std::string& media_type);

// The kind of document: its mediaType, or for OCI documents without one, by their members.
std::string DetectMediaType(const std::string& text);
Result<Manifest> ParseManifest(const std::string& text);
Result<Index> ParseIndex(const std::string& text);
Result<ImageConfig> ParseConfig(const std::string& text);
// rootfs.diff_ids of an image config (empty when absent).
std::vector<std::string> ParseDiffIds(const std::string& text);

// The entry of an index for this host: linux and the host architecture (amd64, arm64, ...).
Result<Descriptor> PickPlatform(const Index& index, const std::string& image);
std::string HostArchitecture();

nlohmann::json DescriptorJson(const Descriptor& descriptor);
std::string ManifestJson(const Manifest& manifest);  // an OCI manifest

}  // namespace haneul::images

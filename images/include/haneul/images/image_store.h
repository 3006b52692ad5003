// The OCI image store: a content-addressed blob store under one directory, an index of named
// images, registry pull/push, import/export of OCI layouts and docker archives, safe layer
// unpack into a per-image rootfs, and image building from a folder.
//
// Thread-safety: every ImageStore method may be called from any thread; mutations of the
// index and of the unpacked rootfs directories are serialised by an internal mutex, blob
// downloads and writes go through temp files and atomic renames so a crash never leaves a
// half-written entry. Methods block on disk and network: call them off any event-loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "haneul/common/status.h"

namespace haneul::images {

// The runtime part of an image's config ("config" in the OCI image config JSON).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
};

// A Lambda function's ImageConfig (CreateFunction's ImageConfig member). An unset optional
// keeps the image's value; a set but empty vector clears it, as Lambda does.
struct LambdaImageOverrides {
  std::optional<std::vector<std::string>> entry_point;
  std::optional<std::vector<std::string>> command;
  std::optional<std::string> working_directory;
};

// Applies Lambda's overrides: EntryPoint replaces the entrypoint (and, like `docker run
// --entrypoint`, drops the image's Cmd unless Command is also given), Command replaces the
// Cmd, WorkingDirectory replaces the working directory.
ImageConfig ApplyOverrides(ImageConfig base, const LambdaImageOverrides& overrides);

// The argv the image runs with: entrypoint followed by cmd.
std::vector<std::string> Argv(const ImageConfig& config);

struct ResolvedImage {
  std::string reference;  // the name it was resolved by, as given
  std::string digest;     // manifest digest, "sha256:..."
  std::string rootfs;     // unpacked root filesystem; shared and read-only: never write into it
  ImageConfig config;
};

struct ImageSummary {
  std::string name;    // "127.0.0.1:5000/repo:tag", "oci:/path:tag", or a local tag
  std::string digest;  // manifest digest
  int64_t size = 0;    // sum of the config and layer blob sizes (compressed)
  int64_t created_unix_millis = 0;  // when it entered this store
  bool unpacked = false;
};

struct Credentials {
  std::string username;
  std::string password;
};

// Limits that bound what an untrusted image can make the store do.
struct UnpackLimits {
  int64_t max_total_bytes = 10LL << 30;  // Lambda's image limit (10 GiB uncompressed)
  int64_t max_entries = 1'000'000;
  int64_t max_entry_bytes = 10LL << 30;
  size_t max_path_bytes = 4096;
  size_t max_pax_bytes = 1 << 20;
};

// Called with (what, done bytes, total bytes or -1) during downloads and uploads, from the
// download threads (possibly several at once): it must be thread-safe.
using ProgressFn = std::function<void(const std::string&, int64_t, int64_t)>;

struct StoreOptions {
  // Registries reached over plain HTTP. Loopback registries (127.0.0.1, localhost, [::1])
  // always are; "*" makes every registry plain HTTP.
  std::vector<std::string> insecure_registries;
  // Basic credentials by registry host ("127.0.0.1:5000"); also used to fetch bearer tokens.
  std::map<std::string, Credentials> credentials;
  UnpackLimits limits;
  int download_concurrency = 3;
  int retries = 3;  // per blob, for transport errors and 5xx; resumes with Range
  ProgressFn progress;
};

// An image reference parsed from a registry name: "host[:port]/repo[:tag][@sha256:...]".
struct RegistryReference {
  std::string registry;    // "127.0.0.1:5000"; "registry-1.docker.io" for Docker Hub names
  std::string repository;  // "library/alpine"
  std::string tag;         // "latest" when neither tag nor digest is given
  std::string digest;      // "sha256:..." or empty
  std::string ToString() const;
};
Result<RegistryReference> ParseRegistryReference(const std::string& text);

// Options for ImageStore::Build.
struct BuildOptions {
  std::string context_directory;   // the folder to copy into the image
  std::string base;                // an image reference, or "scratch"
  std::string tag;                 // the name of the new image in the index
  std::string destination;         // where the folder lands; "" = "/" on scratch, else "/var/task"
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> env;    // appended/replaced by key
  std::optional<std::string> working_dir;
};

class ImageStore {
 public:
  // Opens (creating if needed) the store under `directory`, e.g. "~/.haneul/images".
  static Result<std::unique_ptr<ImageStore>> Open(const std::string& directory,
                                                  StoreOptions options = {});
  ~ImageStore();
  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  // ImageUri forms: registry references ("127.0.0.1:5000/repo:tag", "host/repo@sha256:..."),
  // "oci:PATH[:TAG]", "oci-archive:PATH", "docker-archive:PATH", or the name of an image
  // already in the index. Pulls/imports when the name is not in the index yet (a registry
  // tag is not re-checked once present: use Pull to refresh), unpacks once, returns the rootfs.
  Result<ResolvedImage> Resolve(const std::string& image_uri);

  // Fetches from a registry (always re-checks the tag) and records it under its reference.
  Result<ImageSummary> Pull(const std::string& reference);
  // Imports "oci:PATH[:TAG]", "oci-archive:PATH[:TAG]" or "docker-archive:PATH"; records it
  // under `name` when given, else under the archive's own tag, else the URI.
  Result<ImageSummary> Import(const std::string& source, const std::string& name = "");
  // Pushes the named image to a registry reference ("127.0.0.1:5000/repo:tag").
  Status Push(const std::string& name, const std::string& destination);
  // Writes an OCI image layout directory holding the named image, tagged `tag` (or "latest").
  Status Export(const std::string& name, const std::string& directory, const std::string& tag = "");
  // Builds an image from a folder on a base and records it under options.tag.
  Result<ImageSummary> Build(const BuildOptions& options);
  // Adds a name for an existing image.
  Status Tag(const std::string& name, const std::string& new_name);

  std::vector<ImageSummary> List();
  Result<ImageSummary> Inspect(const std::string& name);
  Result<ImageConfig> Config(const std::string& name);
  // Removes the name from the index; its blobs and rootfs go at the next GarbageCollect.
  Status Remove(const std::string& name);
  // Deletes blobs and rootfs directories no indexed image refers to; returns bytes freed.
  Result<int64_t> GarbageCollect();

  const std::string& directory() const;

 private:
  struct Impl;
  explicit ImageStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul::images

// A Docker Registry HTTP API v2 / OCI distribution client on libcurl: manifests (by tag or
// digest), blob download with digest check, retries and Range resume, blob upload (POST then
// monolithic PUT) and manifest PUT, bearer-token and basic auth.
// Thread-safety: one RegistryClient may be used from several threads at once (each call uses
// its own curl handle; the token cache is locked).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "blob_store.h"
#include "haneul/images/image_store.h"
#include "oci.h"

namespace haneul::images {

struct FetchedManifest {
  std::string body;
  std::string media_type;
  std::string digest;
};

class RegistryClient {
 public:
  explicit RegistryClient(const StoreOptions& options) : options_(options) {}

  // `reference` is a tag or a digest. A fetched-by-digest manifest is verified.
  Result<FetchedManifest> GetManifest(const RegistryReference& ref, const std::string& reference);
  // Downloads into the store (verified). `image` names the image in errors.
  Status DownloadBlob(const RegistryReference& ref, const Descriptor& blob, BlobStore* store,
                      const std::string& image);
  Status UploadBlob(const RegistryReference& ref, const std::string& digest,
                    const std::string& path, int64_t size);
  Status PutManifest(const RegistryReference& ref, const std::string& tag,
                     const std::string& body, const std::string& media_type);

  std::string BaseUrl(const std::string& registry) const;

  struct Request;
  struct Response;

 private:
  // Sends with auth: answers a 401 challenge (Bearer or Basic) once and retries.
  Result<Response> Send(const RegistryReference& ref, Request request, bool push);
  Result<std::string> Token(const std::string& registry, const std::string& challenge,
                            const std::string& default_scope);
  std::string BasicHeader(const std::string& registry) const;

  StoreOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::string> auth_;  // registry + scope -> Authorization header value
};

}  // namespace haneul::images

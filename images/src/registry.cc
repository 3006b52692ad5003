// The registry client. See registry.h. Errors name the image and the reason: the HTTP status
// with the registry's own error code when it sends one, a digest mismatch, or the transport
// failure after the retries.
#include "registry.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "haneul/common/ids.h"

namespace haneul::images {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool IsLoopback(const std::string& registry) {
  std::string host = registry;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// Parses `Bearer realm="...",service="...",scope="..."` into lower-case keys.
std::map<std::string, std::string> ParseChallenge(const std::string& header, std::string* scheme) {
  std::map<std::string, std::string> params;
  size_t space = header.find(' ');
  *scheme = Lower(header.substr(0, space));
  if (space == std::string::npos) return params;
  size_t pos = space + 1;
  while (pos < header.size()) {
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == ',')) ++pos;
    size_t eq = header.find('=', pos);
    if (eq == std::string::npos) break;
    std::string key = Lower(Trim(header.substr(pos, eq - pos)));
    pos = eq + 1;
    std::string value;
    if (pos < header.size() && header[pos] == '"') {
      ++pos;
      while (pos < header.size() && header[pos] != '"') {
        if (header[pos] == '\\' && pos + 1 < header.size()) ++pos;
        value += header[pos++];
      }
      ++pos;
    } else {
      size_t end = header.find(',', pos);
      if (end == std::string::npos) end = header.size();
      value = Trim(header.substr(pos, end - pos));
      pos = end;
    }
    params[key] = value;
  }
  return params;
}

std::string UrlEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The registry's own error ("MANIFEST_UNKNOWN: manifest unknown") when the body has one.
std::string RegistryError(const std::string& body) {
  auto value = nlohmann::json::parse(body, nullptr, false);
  if (value.is_object() && value.contains("errors") && value["errors"].is_array() &&
      !value["errors"].empty() && value["errors"][0].is_object()) {
    const auto& e = value["errors"][0];
    std::string code = e.value("code", "");
    std::string message = e.value("message", "");
    return code + (message.empty() ? "" : ": " + message);
  }
  return "";
}

std::string HttpReason(long status) {
  switch (status) {
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 429: return "429 Too Many Requests";
    case 500: return "500 Internal Server Error";
    case 502: return "502 Bad Gateway";
    case 503: return "503 Service Unavailable";
    default: return "HTTP " + std::to_string(status);
  }
}

}  // namespace

struct RegistryClient::Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string body;
  std::string upload_path;  // PUT a file
  int64_t upload_size = 0;
  bool head = false;
  // When set, receives a 2xx body in pieces instead of Response::body; false aborts.
  std::function<bool(long, const char*, size_t)> sink;
  long timeout_seconds = 0;
};

struct RegistryClient::Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, last response only
  std::string body;
  std::string effective_url;
};

namespace {

struct CurlCall {
  std::map<std::string, std::string>* headers;
  std::string* body;
  const std::function<bool(long, const char*, size_t)>* sink;
  CURL* curl;
  int upload_fd = -1;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* call = static_cast<CurlCall*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) call->headers->clear();  // a new response (redirects)
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    (*call->headers)[Lower(Trim(line.substr(0, colon)))] = Trim(line.substr(colon + 1));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* call = static_cast<CurlCall*>(user);
  long status = 0;
  curl_easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE, &status);
  if (call->sink && *call->sink && status >= 200 && status < 300) {
    return (*call->sink)(status, data, size * n) ? size * n : 0;
  }
  if (call->body->size() < (16u << 20)) call->body->append(data, size * n);
  return size * n;
}

size_t OnRead(char* buffer, size_t size, size_t n, void* user) {
  auto* call = static_cast<CurlCall*>(user);
  for (;;) {
    ssize_t r = ::read(call->upload_fd, buffer, size * n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return CURL_READFUNC_ABORT;
  }
}

Result<RegistryClient::Response> Perform(const RegistryClient::Request& request) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (!curl) return Status::Internal("curl_easy_init failed");
  RegistryClient::Response response;
  CurlCall call{&response.headers, &response.body, &request.sink, curl};
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled transfer (under 1 KB/s for 60 s) fails and is retried, rather than hanging.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
  if (request.timeout_seconds) curl_easy_setopt(curl, CURLOPT_TIMEOUT, request.timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &call);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &call);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "haneul/0.1");
  if (request.head) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (!request.upload_path.empty()) {
    call.upload_fd = ::open(request.upload_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (call.upload_fd < 0) {
      curl_slist_free_all(headers);
      curl_easy_cleanup(curl);
      return Status::FromErrno("open " + request.upload_path);
    }
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &call);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.upload_size));
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  char* effective = nullptr;
  curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
  if (effective) response.effective_url = effective;
  if (call.upload_fd >= 0) ::close(call.upload_fd);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return Status::Unavailable(std::string(curl_easy_strerror(rc)) + " (" + request.url + ")");
  }
  return response;
}

}  // namespace

std::string RegistryClient::BaseUrl(const std::string& registry) const {
  bool insecure = IsLoopback(registry);
  for (const auto& r : options_.insecure_registries) insecure = insecure || r == "*" || r == registry;
  return (insecure ? "http://" : "https://") + registry;
}

std::string RegistryClient::BasicHeader(const std::string& registry) const {
  auto it = options_.credentials.find(registry);
  if (it == options_.credentials.end()) return "";
  return "Basic " + Base64Encode(it->second.username + ":" + it->second.password);
}

Result<std::string> RegistryClient::Token(const std::string& registry, const std::string& challenge,
                                          const std::string& default_scope) {
  std::string scheme;
  auto params = ParseChallenge(challenge, &scheme);
  if (scheme == "basic") {
    std::string basic = BasicHeader(registry);
    if (basic.empty()) return Status::InvalidArgument("401 Unauthorized: the registry wants credentials (--creds USER:PASS)");
    return basic;
  }
  if (scheme != "bearer" || params["realm"].empty()) {
    return Status::InvalidArgument("401 Unauthorized: unsupported auth challenge '" + challenge + "'");
  }
  std::string url = params["realm"];
  std::string scope = params.count("scope") ? params["scope"] : default_scope;
  url += (url.find('?') == std::string::npos ? "?" : "&");
  url += "service=" + UrlEncode(params["service"]) + "&scope=" + UrlEncode(scope);
  Request request;
  request.url = url;
  request.timeout_seconds = 60;
  std::string basic = BasicHeader(registry);
  if (!basic.empty()) request.headers.push_back("Authorization: " + basic);
  auto response = Perform(request);
  if (!response.ok()) return response.status().WithContext("token request");
  if (response->status != 200) {
    return Status::InvalidArgument("token request to " + params["realm"] + " failed: " +
                                   HttpReason(response->status));
  }
  auto body = nlohmann::json::parse(response->body, nullptr, false);
  std::string token;
  if (body.is_object()) token = body.value("token", body.value("access_token", ""));
  if (token.empty()) return Status::InvalidArgument("token response has no token");
  return "Bearer " + token;
}

Result<RegistryClient::Response> RegistryClient::Send(const RegistryReference& ref, Request request,
                                                      bool push) {
  std::string scope = "repository:" + ref.repository + (push ? ":pull,push" : ":pull");
  std::string key = ref.registry + " " + scope;
  std::string auth;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = auth_.find(key);
    if (it != auth_.end()) auth = it->second;
  }
  std::vector<std::string> base_headers = request.headers;
  for (int attempt = 0; attempt < 2; ++attempt) {
    request.headers = base_headers;
    if (!auth.empty()) request.headers.push_back("Authorization: " + auth);
    auto response = Perform(request);
    if (!response.ok()) return response.status();
    if (response->status != 401 || attempt == 1) return response;
    auto challenge = response->headers.find("www-authenticate");
    if (challenge == response->headers.end()) return response;
    auto token = Token(ref.registry, challenge->second, scope);
    if (!token.ok()) return token.status();
    auth = *token;
    std::lock_guard<std::mutex> lock(mutex_);
    auth_[key] = auth;
  }
  return Status::Internal("unreachable");
}

Result<FetchedManifest> RegistryClient::GetManifest(const RegistryReference& ref,
                                                    const std::string& reference) {
  std::string image = ref.ToString();
  Request request;
  request.url = BaseUrl(ref.registry) + "/v2/" + ref.repository + "/manifests/" + reference;
  request.headers = {std::string("Accept: ") + kOciManifest + ", " + kOciIndex + ", " +
                     kDockerManifest + ", " + kDockerList};
  request.timeout_seconds = 120;
  Status last;
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    auto response = Send(ref, request, false);
    if (!response.ok()) {
      last = response.status();
      if (last.code() == Status::Code::kUnavailable) continue;
      return Status(last).WithContext("image " + image);
    }
    if (response->status >= 500 || response->status == 429) {
      last = Status::Unavailable("registry answered " + HttpReason(response->status));
      continue;
    }
    if (response->status != 200) {
      std::string detail = RegistryError(response->body);
      Status s = Status::InvalidArgument("registry answered " + HttpReason(response->status) +
                                         (detail.empty() ? "" : " (" + detail + ")"));
      if (response->status == 404) s = Status::NotFound(s.message());
      return s.WithContext("image " + image);
    }
    if (response->body.size() > (4u << 20)) {
      return Status::InvalidArgument("image " + image + ": manifest larger than 4 MiB");
    }
    FetchedManifest out;
    out.body = response->body;
    out.digest = "sha256:" + Sha256Hex(out.body);
    std::string content_type = response->headers["content-type"];
    content_type = Trim(content_type.substr(0, content_type.find(';')));
    out.media_type = DetectMediaType(out.body);
    if (out.media_type.empty()) out.media_type = content_type;
    if (reference.rfind("sha256:", 0) == 0 && out.digest != reference) {
      return Status::Corruption("image " + image + ": manifest digest mismatch: expected " +
                                reference + ", got " + out.digest);
    }
    if (!IsManifestType(out.media_type) && !IsIndexType(out.media_type)) {
      return Status::InvalidArgument("image " + image + ": unsupported manifest media type '" +
                                     out.media_type + "'");
    }
    return out;
  }
  return Status(last).WithContext("image " + image + " (after " +
                                  std::to_string(options_.retries + 1) + " attempts)");
}

Status RegistryClient::DownloadBlob(const RegistryReference& ref, const Descriptor& blob,
                                    BlobStore* store, const std::string& image) {
  if (store->Has(blob.digest)) return Status::Ok();
  std::string temp = store->TempPath();
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create " + temp);
  auto hash = std::make_unique<Sha256>();
  int64_t have = 0;
  Status last;
  bool done = false;
  for (int attempt = 0; attempt <= options_.retries && !done; ++attempt) {
    Request request;
    request.url = BaseUrl(ref.registry) + "/v2/" + ref.repository + "/blobs/" + blob.digest;
    if (have > 0) request.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
    Status write_error;
    int64_t last_report = 0;
    bool first = true;
    request.sink = [&](long status, const char* data, size_t size) -> bool {
      if (first) {
        first = false;
        if (status == 200 && have > 0) {
          // The server ignored our Range: start the file over.
          if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
            write_error = Status::FromErrno("truncate " + temp);
            return false;
          }
          hash = std::make_unique<Sha256>();
          have = 0;
        }
      }
      if (have + static_cast<int64_t>(size) > blob.size) {
        write_error = Status::Corruption("blob " + blob.digest + " is larger than its descriptor says");
        return false;
      }
      size_t off = 0;
      while (off < size) {
        ssize_t w = ::write(fd, data + off, size - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          write_error = Status::FromErrno("write " + temp);
          return false;
        }
        off += static_cast<size_t>(w);
      }
      hash->Update(data, size);
      have += static_cast<int64_t>(size);
      if (options_.progress && (have - last_report > (4 << 20) || have == blob.size)) {
        last_report = have;
        options_.progress(blob.digest.substr(7, 12), have, blob.size);
      }
      return true;
    };
    auto response = Send(ref, request, false);
    if (!write_error.ok()) {
      last = write_error;
      if (write_error.code() == Status::Code::kCorruption) break;
      continue;
    }
    if (!response.ok()) {
      last = response.status();  // transport error: resume from `have`
      continue;
    }
    if (response->status == 200 || response->status == 206) {
      done = true;
      break;
    }
    std::string detail = RegistryError(response->body);
    last = Status::InvalidArgument("registry answered " + HttpReason(response->status) + " for blob " +
                                   blob.digest + (detail.empty() ? "" : " (" + detail + ")"));
    if (response->status == 404) last = Status::NotFound(last.message());
    if (response->status < 500 && response->status != 429) break;
  }
  if (done && ::fsync(fd) != 0) {
    done = false;
    last = Status::FromErrno("fsync " + temp);
  }
  ::close(fd);
  if (!done) {
    ::unlink(temp.c_str());
    return last.WithContext("image " + image);
  }
  std::string digest = "sha256:" + hash->FinishHex();
  if (digest != blob.digest || have != blob.size) {
    ::unlink(temp.c_str());
    return Status::Corruption("image " + image + ": digest mismatch for blob " + blob.digest +
                              ": got " + digest + " (" + std::to_string(have) + " of " +
                              std::to_string(blob.size) + " bytes)");
  }
  return store->Commit(temp, digest);
}

Status RegistryClient::UploadBlob(const RegistryReference& ref, const std::string& digest,
                                  const std::string& path, int64_t size) {
  std::string image = ref.ToString();
  std::string base = BaseUrl(ref.registry);
  Request head;
  head.head = true;
  head.method = "HEAD";
  head.url = base + "/v2/" + ref.repository + "/blobs/" + digest;
  head.timeout_seconds = 60;
  auto exists = Send(ref, head, true);
  if (exists.ok() && exists->status == 200) return Status::Ok();
  Status last;
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    Request start;
    start.method = "POST";
    start.url = base + "/v2/" + ref.repository + "/blobs/uploads/";
    start.timeout_seconds = 60;
    auto started = Send(ref, start, true);
    if (!started.ok()) {
      last = started.status();
      continue;
    }
    if (started->status != 202) {
      last = Status::InvalidArgument("starting the upload of " + digest + ": registry answered " +
                                     HttpReason(started->status));
      if (started->status >= 500) continue;
      break;
    }
    std::string location = started->headers["location"];
    if (location.empty()) return Status::InvalidArgument("image " + image + ": upload has no Location");
    if (location[0] == '/') location = base + location;
    Request put;
    put.method = "PUT";
    put.url = location + (location.find('?') == std::string::npos ? "?" : "&") +
              "digest=" + UrlEncode(digest);
    put.headers = {"Content-Type: application/octet-stream"};
    put.upload_path = path;
    put.upload_size = size;
    auto done = Send(ref, put, true);
    if (!done.ok()) {
      last = done.status();
      continue;
    }
    if (done->status == 201 || done->status == 204) return Status::Ok();
    std::string detail = RegistryError(done->body);
    last = Status::InvalidArgument("uploading " + digest + ": registry answered " +
                                   HttpReason(done->status) + (detail.empty() ? "" : " (" + detail + ")"));
    if (done->status < 500) break;
  }
  return last.WithContext("image " + image);
}

Status RegistryClient::PutManifest(const RegistryReference& ref, const std::string& tag,
                                   const std::string& body, const std::string& media_type) {
  Request put;
  put.method = "PUT";
  put.url = BaseUrl(ref.registry) + "/v2/" + ref.repository + "/manifests/" + tag;
  put.headers = {"Content-Type: " + media_type};
  put.body = body;
  put.timeout_seconds = 120;
  auto response = Send(ref, put, true);
  if (!response.ok()) return response.status().WithContext("image " + ref.ToString());
  if (response->status != 201 && response->status != 200) {
    std::string detail = RegistryError(response->body);
    return Status::InvalidArgument("image " + ref.ToString() + ": manifest upload answered " +
                                   HttpReason(response->status) + (detail.empty() ? "" : " (" + detail + ")"));
  }
  return Status::Ok();
}

}  // namespace haneul::images

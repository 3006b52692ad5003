// HttpClient over libcurl's easy interface. One easy handle per client, reset (not recreated)
// before each request, so the handle's connection cache keeps connections to the server alive.
// Thread-safety: an HttpClient is not thread-safe (one per thread); separate clients may be used
// from separate threads at once. curl_global_init runs exactly once, under std::call_once.
#include "haneul/common/http_client.h"

#include <curl/curl.h>
#include <strings.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

namespace haneul {

namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Failure here is an impossible state on a working system (it only allocates); abort.
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) std::abort();
  });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

size_t CollectBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Called once per header line, status lines included. An interim response (100 Continue) or a
// second status line starts a fresh header set, so only the final response's headers remain.
size_t CollectHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<Headers*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    *headers = Headers();
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    headers->Add(std::string(Trim(line.substr(0, colon))),
                 std::string(Trim(line.substr(colon + 1))));
  }
  return size * count;
}

struct CurlSlist {
  curl_slist* list = nullptr;
  ~CurlSlist() { curl_slist_free_all(list); }
  bool Append(const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) return false;
    list = next;
    return true;
  }
};

}  // namespace

struct HttpClient::Impl {
  CURL* handle = nullptr;
};

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
  InitCurlOnce();
  impl_->handle = curl_easy_init();
  if (impl_->handle == nullptr) std::abort();  // only fails when out of memory
}

HttpClient::~HttpClient() { curl_easy_cleanup(impl_->handle); }

Result<HttpClientResponse> HttpClient::Send(const std::string& method, const std::string& url,
                                            const Headers& headers, const std::string& body,
                                            std::chrono::milliseconds timeout) {
  CURL* curl = impl_->handle;
  // Reset clears every option of the previous request but keeps live connections and caches.
  curl_easy_reset(curl);

  HttpClientResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  CurlSlist header_list;
  bool has_content_type = false;
  for (const auto& [name, value] : headers.all()) {
    if (name.size() == 12 && strncasecmp(name.c_str(), "content-type", 12) == 0) {
      has_content_type = true;
    }
    // "Name;" is curl's spelling for a header sent with an empty value.
    if (!header_list.Append(value.empty() ? name + ";" : name + ": " + value)) {
      return Status::Internal("http client: out of memory building headers");
    }
  }
  // An empty "Expect:" stops curl from waiting for 100-continue on large bodies (a full round
  // trip of latency); without a caller's Content-Type, curl would invent a form-encoded one.
  if (!header_list.Append("Expect:") ||
      (!has_content_type && !header_list.Append("Content-Type:"))) {
    return Status::Internal("http client: out of memory building headers");
  }

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.list);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  // No signals: timeouts must not use SIGALRM, which is process-wide.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);

  if (method == "GET" && body.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else {
    // The body is sent from the caller's buffer, which outlives curl_easy_perform below.
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  CURLcode code = curl_easy_perform(curl);
  // The error buffer and header list die with this frame; drop curl's pointers to them.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  if (code != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    // curl 7.88 says "Couldn't connect to server" for a refused connection; the OS's reason
    // ("Connection refused") tells the user more.
    long os_error = 0;
    if (curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_error) == CURLE_OK && os_error != 0) {
      std::string reason = std::strerror(static_cast<int>(os_error));
      if (detail.find(reason) == std::string::npos) detail += " (" + reason + ")";
    }
    return Status::Unavailable(method + " " + url + ": " + detail);
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace haneul

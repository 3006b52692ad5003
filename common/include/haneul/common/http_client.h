// A small blocking HTTP client over libcurl, for the CLI and tests. One HttpClient reuses one
// curl handle (and its connections) across calls; it is not thread-safe: use one per thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul {

struct HttpClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // url is absolute ("http://127.0.0.1:4747/2015-03-31/functions/x/invocations").
  // A transport failure (refused, timed out) is an error Status; any HTTP status is a response.
  Result<HttpClientResponse> Send(const std::string& method, const std::string& url,
                                  const Headers& headers, const std::string& body,
                                  std::chrono::milliseconds timeout = std::chrono::minutes(16));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul

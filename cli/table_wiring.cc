// The table service's wiring in serve: see table_wiring.h.
#include "table_wiring.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace haneul::cli {

namespace {

class CaptureResponder final : public Responder {
 public:
  void Respond(HttpResponse response) override {
    if (!answer_) answer_ = std::move(response);
  }
  bool responded() const override { return answer_.has_value(); }
  std::optional<HttpResponse> answer_;
};

std::string XmlUnescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    size_t end = text.find(';', i);
    if (end == std::string_view::npos) {
      out += text[i];
      continue;
    }
    std::string_view entity = text.substr(i + 1, end - i - 1);
    if (entity == "amp")
      out += '&';
    else if (entity == "lt")
      out += '<';
    else if (entity == "gt")
      out += '>';
    else if (entity == "quot")
      out += '"';
    else if (entity == "apos")
      out += '\'';
    else if (entity.starts_with("#")) {
      unsigned long code = entity.starts_with("#x")
                               ? std::strtoul(std::string(entity.substr(2)).c_str(), nullptr, 16)
                               : std::strtoul(std::string(entity.substr(1)).c_str(), nullptr, 10);
      // UTF-8 of the code point.
      if (code < 0x80) {
        out += static_cast<char>(code);
      } else if (code < 0x800) {
        out += static_cast<char>(0xc0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3f));
      } else if (code < 0x10000) {
        out += static_cast<char>(0xe0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
      } else {
        out += static_cast<char>(0xf0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
      }
    } else {
      out += text.substr(i, end - i + 1);
    }
    i = end;
  }
  return out;
}

// The text of every <name>...</name> in xml, in order (S3's answers nest no element in itself).
std::vector<std::string> Elements(const std::string& xml, const std::string& name,
                                  bool unescape = true) {
  std::vector<std::string> out;
  std::string open = "<" + name + ">", close = "</" + name + ">";
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string::npos) {
    size_t end = xml.find(close, at);
    if (end == std::string::npos) break;
    std::string_view inner = std::string_view(xml).substr(at + open.size(), end - at - open.size());
    out.push_back(unescape ? XmlUnescape(inner) : std::string(inner));
    at = end + close.size();
  }
  return out;
}

// S3's error answer as "Code: Message" (the table jobs take the code as their FailureCode).
Status S3Failure(const HttpResponse& answer) {
  auto code = Elements(answer.body, "Code");
  auto message = Elements(answer.body, "Message");
  return Status::Unavailable(
      (code.empty() ? "S3Error" : code[0]) + ": " +
      (message.empty() ? "status " + std::to_string(answer.status) : message[0]));
}

Result<HttpResponse> Call(const std::function<objects::ObjectService*()>& find, std::string method,
                          std::string path, std::string query, std::string body) {
  objects::ObjectService* objects = find();
  if (objects == nullptr) return Status::Unavailable("ServiceUnavailable: no object store");
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.query = std::move(query);
  request.target = request.path + (request.query.empty() ? "" : "?" + request.query);
  request.headers.Set("Content-Length", std::to_string(body.size()));
  request.headers.Set("Host", "localhost");
  request.body = std::move(body);
  request.remote_address = "127.0.0.1";
  auto responder = std::make_shared<CaptureResponder>();
  objects->Handle(request, responder);
  if (!responder->answer_)
    return Status::Internal("InternalError: the object store did not answer");
  return std::move(*responder->answer_);
}

}  // namespace

table::TableObjectStore TableObjectStoreOver(std::function<objects::ObjectService*()> objects) {
  table::TableObjectStore store;
  store.put = [objects](const std::string& bucket, const std::string& key,
                        std::string body) -> Result<std::string> {
    auto answer =
        Call(objects, "PUT", "/" + bucket + "/" + PercentEncode(key), "", std::move(body));
    if (!answer.ok()) return answer.status();
    if (answer->status != 200) return S3Failure(*answer);
    std::string etag(answer->headers.Get("ETag"));
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
      etag = etag.substr(1, etag.size() - 2);
    }
    return etag;
  };
  store.get = [objects](const std::string& bucket, const std::string& key) -> Result<std::string> {
    auto answer = Call(objects, "GET", "/" + bucket + "/" + PercentEncode(key), "", "");
    if (!answer.ok()) return answer.status();
    if (answer->status != 200) return S3Failure(*answer);
    return std::move(answer->body);
  };
  store.list =
      [objects](const std::string& bucket,
                const std::string& prefix) -> Result<std::vector<table::TableObjectStore::Listed>> {
    std::vector<table::TableObjectStore::Listed> out;
    std::string token;
    while (true) {
      std::string query = "list-type=2&max-keys=1000&prefix=" + PercentEncode(prefix);
      if (!token.empty()) query += "&continuation-token=" + PercentEncode(token);
      auto answer = Call(objects, "GET", "/" + bucket, query, "");
      if (!answer.ok()) return answer.status();
      if (answer->status != 200) return S3Failure(*answer);
      std::vector<std::string> contents = Elements(answer->body, "Contents", false);
      for (const auto& entry : contents) {
        auto key = Elements(entry, "Key");
        auto size = Elements(entry, "Size");
        if (key.empty()) continue;
        out.push_back({key[0], size.empty() ? 0 : std::atoll(size[0].c_str())});
      }
      auto next = Elements(answer->body, "NextContinuationToken");
      auto truncated = Elements(answer->body, "IsTruncated");
      if (next.empty() || truncated.empty() || truncated[0] != "true") break;
      token = next[0];
    }
    return out;
  };
  return store;
}

namespace {

class Appending final : public Responder {
 public:
  Appending(std::shared_ptr<Responder> inner, std::function<std::string()> extra)
      : inner_(std::move(inner)), extra_(std::move(extra)) {}
  void Respond(HttpResponse response) override {
    if (response.status == 200) response.body += extra_();
    inner_->Respond(std::move(response));
  }
  bool responded() const override { return inner_->responded(); }

 private:
  std::shared_ptr<Responder> inner_;
  std::function<std::string()> extra_;
};

}  // namespace

std::shared_ptr<Responder> AppendingResponder(std::shared_ptr<Responder> inner,
                                              std::function<std::string()> extra) {
  return std::make_shared<Appending>(std::move(inner), std::move(extra));
}

}  // namespace haneul::cli

// Fuzz target: the object store's parsers of untrusted request bodies: the aws-chunked decoder
// and the XML parsers of DeleteObjects, CompleteMultipartUpload and NotificationConfiguration.
// The first byte picks the parser; 5 sends the rest as one raw request (method, target and
// headers on the first lines, then the body) through ObjectService::Handle on a scratch store. With
// clang: clang++ -fsanitize=fuzzer,address ... to fuzz for real; the GCC build replays fuzz/corpus
// through replay_main.cc as a regression test.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "haneul/objects/object_service.h"
#include "s3_util.h"

namespace {

class NullResponder : public haneul::Responder {
 public:
  void Respond(haneul::HttpResponse) override { done_ = true; }
  bool responded() const override { return done_; }

 private:
  bool done_ = false;
};

std::string& Directory() {
  static std::string directory =
      (std::filesystem::temp_directory_path() / ("objects-fuzz-" + std::to_string(getpid())))
          .string();
  return directory;
}

haneul::objects::ObjectService* Service() {
  static haneul::objects::ObjectService* service = [] {
    const std::string& directory = Directory();
    std::filesystem::remove_all(directory);
    // The scratch store goes when the process ends (the service itself is leaked on purpose).
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Directory(), ec);
    });
    haneul::objects::ObjectOptions options;
    options.sync = false;
    options.notify = [](const std::string&, std::string) {};
    auto opened = haneul::objects::ObjectService::Open(directory, options);
    if (!opened.ok()) std::abort();
    auto* raw = opened->release();
    haneul::HttpRequest create;
    create.method = "PUT";
    create.path = create.target = "/fuzz";
    raw->Handle(create, std::make_shared<NullResponder>());
    return raw;
  }();
  return service;
}

// "METHOD TARGET\nName: value\n...\n\nbody"
void RawRequest(std::string_view input) {
  haneul::HttpRequest request;
  size_t end = input.find("\n\n");
  std::string_view head = input.substr(0, end);
  request.body = end == std::string_view::npos ? "" : std::string(input.substr(end + 2));
  size_t eol = head.find('\n');
  std::string_view first = head.substr(0, eol);
  size_t space = first.find(' ');
  request.method = std::string(first.substr(0, space));
  request.target = space == std::string_view::npos ? "/" : std::string(first.substr(space + 1));
  if (request.target.empty() || request.target[0] != '/') request.target = "/" + request.target;
  size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);
  while (eol != std::string_view::npos) {
    head = head.substr(eol + 1);
    eol = head.find('\n');
    std::string_view line = head.substr(0, eol);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    request.headers.Add(std::string(line.substr(0, colon)), std::string(value));
  }
  auto responder = std::make_shared<NullResponder>();
  Service()->Handle(request, responder);
  if (!responder->responded() && !haneul::objects::ObjectService::IsS3Request(request) &&
      request.headers.Get("Authorization").empty()) {
    std::abort();  // an unsigned request must always be answered
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace haneul::objects;
  S3Error error;
  switch (data[0] % 6) {
    case 0: {
      std::string out, message;
      std::map<std::string, std::string> trailers;
      DecodeAwsChunked(input, &out, &trailers, &message);
      break;
    }
    case 1: {
      DeleteRequest request;
      ParseDeleteRequest(input, &request, &error);
      break;
    }
    case 2: {
      std::vector<CompletedPart> parts;
      ParseCompleteMultipart(input, &parts, &error);
      break;
    }
    case 3: {
      std::vector<NotificationRule> rules;
      if (ParseNotificationConfiguration(input, &rules, &error)) {
        // Round trips: rendering and the JSON persistence must accept what parsing produced.
        RenderNotificationConfiguration(rules);
        RulesFromJson(RulesToJson(rules));
        for (const auto& rule : rules) RuleMatches(rule, "ObjectCreated:Put", input);
      }
      break;
    }
    case 5:
      RawRequest(input);
      break;
    default:
      ValidBucketName(input);
      ValidUtf8(input);
      ParseHttpDate(input);
      UrlEncodeKey(input);
      FormEncode(input);
      break;
  }
  return 0;
}

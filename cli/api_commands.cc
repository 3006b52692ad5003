// `haneul api list | create NAME --target FUNCTION_OR_URL | import FILE | export API_ID
// [--stage NAME] | delete API_ID [--endpoint URL]`: a thin client of the apigatewayv2 management
// API (/v2/apis), signed with SigV4 when AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or
// HANEUL_CREDENTIALS name a key pair. Single-threaded.
#include "api_commands.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "haneul/common/http.h"
#include "haneul/common/http_client.h"
#include "haneul/common/ids.h"
#include "haneul/common/sigv4.h"

namespace haneul::cli {

namespace {

using nlohmann::json;

const char kUsage[] =
    "usage: haneul api list [--endpoint URL]\n"
    "       haneul api create NAME --target FUNCTION|URL   (quick create: $default route and stage)\n"
    "       haneul api import FILE.json                     (OpenAPI 3.0 with API Gateway extensions)\n"
    "       haneul api export API_ID [--stage NAME]         (OpenAPI 3.0, JSON)\n"
    "       haneul api delete API_ID\n";

struct Request {
  std::string endpoint;
  std::string method;
  std::string target;
  std::string body;
};

Result<HttpClientResponse> Send(const Request& request) {
  Headers headers;
  headers.Set("Content-Type", "application/json");
  std::string key, secret;
  if (const char* k = std::getenv("AWS_ACCESS_KEY_ID"), *s = std::getenv("AWS_SECRET_ACCESS_KEY");
      k && *k && s && *s) {
    key = k;
    secret = s;
  } else if (const char* pairs = std::getenv("HANEUL_CREDENTIALS"); pairs && *pairs) {
    std::string first(pairs);
    first = first.substr(0, first.find(','));
    auto colon = first.find(':');
    if (colon != std::string::npos) {
      key = first.substr(0, colon);
      secret = first.substr(colon + 1);
    }
  }
  if (!key.empty()) {
    std::string host = request.endpoint.substr(request.endpoint.find("//") + 2);
    headers.Set("Host", host.substr(0, host.find('/')));
    auto question = request.target.find('?');
    const char* region = std::getenv("AWS_REGION");
    SignSigV4(request.method, request.target.substr(0, question),
              question == std::string::npos ? "" : request.target.substr(question + 1),
              request.body, "apigateway", region && *region ? region : "us-east-1", key, secret,
              NowUnixMillis() / 1000, &headers);
  }
  HttpClient client;
  return client.Send(request.method, request.endpoint + request.target, headers, request.body,
                     std::chrono::seconds(60));
}

// Sends; prints the error and returns nullopt unless the status is 2xx.
std::optional<json> Call(const Request& request) {
  auto response = Send(request);
  if (!response.ok()) {
    std::fprintf(stderr, "haneul api: cannot reach %s: %s\n", request.endpoint.c_str(),
                 response.status().message().c_str());
    return std::nullopt;
  }
  json body = json::parse(response->body, nullptr, false);
  if (response->status < 200 || response->status > 299) {
    std::string message = body.is_object() ? body.value("message", response->body) : response->body;
    std::fprintf(stderr, "haneul api: %s (%d): %s\n",
                 std::string(response->headers.Get("x-amzn-ErrorType")).c_str(), response->status,
                 message.c_str());
    return std::nullopt;
  }
  return body.is_discarded() ? json() : body;
}

}  // namespace

int Api(int argc, char** argv) {
  std::vector<std::string> args;
  std::string endpoint;
  std::string target_flag;
  std::string stage;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--endpoint" || arg == "--target" || arg == "--stage") && i + 1 < argc) {
      (arg == "--endpoint" ? endpoint : arg == "--target" ? target_flag : stage) = argv[++i];
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      args.push_back(arg);
    }
  }
  if (endpoint.empty()) {
    const char* env = std::getenv("HANEUL_ENDPOINT");
    endpoint = env && *env ? env : "http://127.0.0.1:4747";
  }
  while (endpoint.size() > 1 && endpoint.back() == '/') endpoint.pop_back();
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string& command = args[0];
  if (command == "list" && args.size() == 1) {
    auto apis = Call({endpoint, "GET", "/v2/apis", ""});
    if (!apis) return 1;
    for (const auto& api : apis->value("items", json::array())) {
      std::printf("%s\t%s\t%s\n", api.value("apiId", "").c_str(), api.value("name", "").c_str(),
                  api.value("apiEndpoint", "").c_str());
    }
    return 0;
  }
  if (command == "create" && args.size() == 2 && !target_flag.empty()) {
    json body = {{"name", args[1]}, {"protocolType", "HTTP"}, {"target", target_flag}};
    auto api = Call({endpoint, "POST", "/v2/apis", body.dump()});
    if (!api) return 1;
    std::printf("%s\t%s/\n", api->value("apiId", "").c_str(), api->value("apiEndpoint", "").c_str());
    return 0;
  }
  if (command == "import" && args.size() == 2) {
    std::ifstream file(args[1], std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "haneul api: cannot read %s\n", args[1].c_str());
      return 1;
    }
    std::string document((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    auto api = Call({endpoint, "PUT", "/v2/apis", json{{"body", document}}.dump()});
    if (!api) return 1;
    std::printf("%s\t%s\n", api->value("apiId", "").c_str(), api->value("apiEndpoint", "").c_str());
    for (const auto& warning : api->value("warnings", json::array())) {
      std::fprintf(stderr, "haneul api: warning: %s\n", warning.get<std::string>().c_str());
    }
    return 0;
  }
  if (command == "export" && args.size() == 2) {
    std::string target = "/v2/apis/" + PercentEncode(args[1]) + "/exports/OAS30?outputType=JSON";
    if (!stage.empty()) target += "&stageName=" + PercentEncode(stage);
    auto document = Call({endpoint, "GET", target, ""});
    if (!document) return 1;
    std::printf("%s\n", document->dump(2).c_str());
    return 0;
  }
  if (command == "delete" && args.size() == 2) {
    return Call({endpoint, "DELETE", "/v2/apis/" + PercentEncode(args[1]), ""}) ? 0 : 1;
  }
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace haneul::cli

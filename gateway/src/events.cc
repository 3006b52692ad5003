// Payload format 1.0 / 2.0 events and response mapping (see events.h).
#include "events.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <vector>

#include "haneul/common/fast_json.h"
#include "haneul/common/ids.h"

namespace haneul::gateway {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

namespace {

using nlohmann::json;

// Query pairs in order, percent-decoded ('+' is a space, as browsers send forms).
std::vector<std::pair<std::string, std::string>> QueryPairs(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    size_t amp = query.find('&', start);
    std::string_view part =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string name = PercentDecode(part.substr(0, eq), true);
      std::string value =
          eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
      pairs.emplace_back(std::move(name), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return pairs;
}

bool ValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t extra;
    if (c < 0x80) {
      extra = 0;
    } else if ((c >> 5) == 0x6) {
      extra = 1;
    } else if ((c >> 4) == 0xe) {
      extra = 2;
    } else if ((c >> 3) == 0x1e) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= text.size() + (extra == 0 ? 1 : 0) && extra > 0) return false;
    if (extra > 0 && i + extra > text.size() - 1) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

// The body as the event carries it: text as is, anything else base64.
void PutBody(const RequestInfo& info, json* event, bool null_when_empty) {
  if (info.body.empty()) {
    if (null_when_empty) (*event)["body"] = nullptr;
    (*event)["isBase64Encoded"] = false;
    return;
  }
  std::string_view type = info.headers.Get("content-type");
  bool text = type.empty() ? ValidUtf8(info.body) : IsTextContentType(type) && ValidUtf8(info.body);
  if (text) {
    (*event)["body"] = info.body;
    (*event)["isBase64Encoded"] = false;
  } else {
    (*event)["body"] = Base64Encode(info.body);
    (*event)["isBase64Encoded"] = true;
  }
}

std::string HeaderValueText(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number() || value.is_null()) return value.is_null() ? "" : value.dump();
  return value.dump();
}

// Fills status/headers/body of `response` from a proxy-shaped object; shared by both formats.
Status MapProxyObject(const json& object, bool cookies_allowed, HttpResponse* response) {
  const json& status = object["statusCode"];
  if (status.is_number_integer()) {
    response->status = status.get<int>();
  } else if (status.is_string()) {
    // API Gateway accepts "200" as well as 200.
    const std::string& text = status.get_ref<const std::string&>();
    if (text.empty() || !std::all_of(text.begin(), text.end(), ::isdigit) || text.size() > 3) {
      return Status::InvalidArgument("statusCode is not a number");
    }
    response->status = std::stoi(text);
  } else {
    return Status::InvalidArgument("statusCode is not a number");
  }
  if (response->status < 100 || response->status > 599) {
    return Status::InvalidArgument("statusCode out of range");
  }
  std::map<std::string, std::vector<std::string>> multi;
  std::vector<std::string> order;
  if (object.contains("multiValueHeaders") && !object["multiValueHeaders"].is_null()) {
    const json& headers = object["multiValueHeaders"];
    if (!headers.is_object()) return Status::InvalidArgument("multiValueHeaders is not an object");
    for (auto it = headers.begin(); it != headers.end(); ++it) {
      if (!it.value().is_array()) return Status::InvalidArgument("multiValueHeaders value");
      for (const json& value : it.value()) {
        if (value.is_object() || value.is_array()) {
          return Status::InvalidArgument("multiValueHeaders value");
        }
        multi[Lower(it.key())].push_back(HeaderValueText(value));
      }
      response->headers.Set(it.key(), "");  // placeholder keeps the name's spelling and order
      order.push_back(it.key());
    }
  }
  Headers merged;
  for (const std::string& name : order) {
    for (const std::string& value : multi[Lower(name)]) merged.Add(name, value);
  }
  if (object.contains("headers") && !object["headers"].is_null()) {
    const json& headers = object["headers"];
    if (!headers.is_object()) return Status::InvalidArgument("headers is not an object");
    for (auto it = headers.begin(); it != headers.end(); ++it) {
      if (it.value().is_object() || it.value().is_array()) {
        return Status::InvalidArgument("header value is not a string");
      }
      // A header given in both keeps only the multiValueHeaders values.
      if (multi.count(Lower(it.key()))) continue;
      merged.Add(it.key(), HeaderValueText(it.value()));
    }
  }
  response->headers = std::move(merged);
  if (cookies_allowed && object.contains("cookies") && !object["cookies"].is_null()) {
    const json& cookies = object["cookies"];
    if (!cookies.is_array()) return Status::InvalidArgument("cookies is not an array");
    for (const json& cookie : cookies) {
      if (!cookie.is_string()) return Status::InvalidArgument("cookie is not a string");
      response->headers.Add("Set-Cookie", cookie.get<std::string>());
    }
  }
  bool base64 = false;
  if (object.contains("isBase64Encoded") && !object["isBase64Encoded"].is_null()) {
    const json& flag = object["isBase64Encoded"];
    if (flag.is_boolean()) {
      base64 = flag.get<bool>();
    } else if (flag.is_string()) {
      base64 = flag.get<std::string>() == "true";
    } else {
      return Status::InvalidArgument("isBase64Encoded is not a boolean");
    }
  }
  if (object.contains("body") && !object["body"].is_null()) {
    const json& body = object["body"];
    if (!body.is_string()) return Status::InvalidArgument("body is not a string");
    if (base64) {
      if (!Base64Decode(body.get_ref<const std::string&>(), &response->body)) {
        return Status::InvalidArgument("body is not valid base64");
      }
    } else {
      response->body = body.get<std::string>();
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsTextContentType(std::string_view content_type) {
  std::string type = Lower(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type.starts_with("text/")) return true;
  static const char* kText[] = {"application/json", "application/javascript",
                                "application/xml", "application/x-www-form-urlencoded",
                                "application/ecmascript", "application/x-javascript"};
  for (const char* text : kText) {
    if (type == text) return true;
  }
  return type.ends_with("+json") || type.ends_with("+xml");
}

std::string ApiGatewayTime(int64_t unix_millis) {
  time_t seconds = static_cast<time_t>(unix_millis / 1000);
  struct tm utc;
  gmtime_r(&seconds, &utc);
  char buffer[40];
  strftime(buffer, sizeof(buffer), "%d/%b/%Y:%H:%M:%S +0000", &utc);
  return buffer;
}

json BuildEventV2(const RequestInfo& info) {
  json event = json::object();
  event["version"] = "2.0";
  event["routeKey"] = info.route_key;
  event["rawPath"] = info.raw_path;
  event["rawQueryString"] = info.query;
  json cookies = json::array();
  json headers = json::object();
  for (const auto& [name, value] : info.headers.all()) {
    std::string key = Lower(name);
    if (key == "cookie") {
      // "a=1; b=2" → ["a=1", "b=2"]
      size_t start = 0;
      while (start < value.size()) {
        size_t semi = value.find(';', start);
        std::string part = value.substr(start, semi == std::string::npos ? semi : semi - start);
        size_t first = part.find_first_not_of(' ');
        if (first != std::string::npos) cookies.push_back(part.substr(first));
        if (semi == std::string::npos) break;
        start = semi + 1;
      }
      continue;
    }
    if (headers.contains(key)) {
      headers[key] = headers[key].get<std::string>() + "," + value;
    } else {
      headers[key] = value;
    }
  }
  if (!cookies.empty()) event["cookies"] = std::move(cookies);
  event["headers"] = std::move(headers);
  auto pairs = QueryPairs(info.query);
  if (!pairs.empty()) {
    json query = json::object();
    for (const auto& [name, value] : pairs) {
      if (query.contains(name)) {
        query[name] = query[name].get<std::string>() + "," + value;
      } else {
        query[name] = value;
      }
    }
    event["queryStringParameters"] = std::move(query);
  }
  json context = json::object();
  context["accountId"] = info.account_id;
  context["apiId"] = info.api_id;
  if (!info.authorizer.is_null()) context["authorizer"] = info.authorizer;
  context["domainName"] = info.domain_name;
  context["domainPrefix"] = info.domain_name.substr(0, info.domain_name.find('.'));
  context["http"] = {{"method", info.method},
                     {"path", PercentDecode(info.raw_path)},
                     {"protocol", "HTTP/1.1"},
                     {"sourceIp", info.source_ip},
                     {"userAgent", std::string(info.headers.Get("user-agent"))}};
  context["requestId"] = info.request_id;
  context["routeKey"] = info.route_key;
  context["stage"] = info.stage;
  context["time"] = ApiGatewayTime(info.time_ms);
  context["timeEpoch"] = info.time_ms;
  event["requestContext"] = std::move(context);
  if (!info.path_parameters.empty()) event["pathParameters"] = info.path_parameters;
  if (!info.stage_variables.empty()) event["stageVariables"] = info.stage_variables;
  PutBody(info, &event, false);  // 2.0 leaves body out when there is none
  return event;
}

json BuildEventV1(const RequestInfo& info) {
  json event = json::object();
  event["version"] = "1.0";
  event["resource"] = info.resource;
  std::string path = PercentDecode(info.raw_path);
  event["path"] = path;
  event["httpMethod"] = info.method;
  json headers = json::object();
  json multi_headers = json::object();
  // HTTP APIs lower-case header names in both payload formats.
  for (const auto& [name, value] : info.headers.all()) {
    std::string key = Lower(name);
    headers[key] = value;  // the last value wins
    multi_headers[key].push_back(value);
  }
  event["headers"] = std::move(headers);
  event["multiValueHeaders"] = std::move(multi_headers);
  auto pairs = QueryPairs(info.query);
  if (pairs.empty()) {
    event["queryStringParameters"] = nullptr;
    event["multiValueQueryStringParameters"] = nullptr;
  } else {
    json query = json::object();
    json multi_query = json::object();
    for (const auto& [name, value] : pairs) {
      query[name] = value;
      multi_query[name].push_back(value);
    }
    event["queryStringParameters"] = std::move(query);
    event["multiValueQueryStringParameters"] = std::move(multi_query);
  }
  json identity = {{"accessKey", nullptr},
                   {"accountId", nullptr},
                   {"caller", nullptr},
                   {"cognitoAuthenticationProvider", nullptr},
                   {"cognitoAuthenticationType", nullptr},
                   {"cognitoIdentityId", nullptr},
                   {"cognitoIdentityPoolId", nullptr},
                   {"principalOrgId", nullptr},
                   {"sourceIp", info.source_ip},
                   {"user", nullptr},
                   {"userAgent", std::string(info.headers.Get("user-agent"))},
                   {"userArn", nullptr}};
  json context = json::object();
  context["accountId"] = info.account_id;
  context["apiId"] = info.api_id;
  context["authorizer"] =
      info.authorizer.is_null() ? json{{"claims", nullptr}, {"scopes", nullptr}} : info.authorizer;
  context["domainName"] = info.domain_name;
  context["domainPrefix"] = info.domain_name.substr(0, info.domain_name.find('.'));
  context["extendedRequestId"] = info.request_id;
  context["httpMethod"] = info.method;
  context["identity"] = std::move(identity);
  context["path"] = path;
  context["protocol"] = "HTTP/1.1";
  context["requestId"] = info.request_id;
  context["requestTime"] = ApiGatewayTime(info.time_ms);
  context["requestTimeEpoch"] = info.time_ms;
  context["resourceId"] = info.route_key;
  context["resourcePath"] = info.resource;
  context["stage"] = info.stage;
  event["requestContext"] = std::move(context);
  if (info.path_parameters.empty()) {
    event["pathParameters"] = nullptr;
  } else {
    event["pathParameters"] = info.path_parameters;
  }
  if (info.stage_variables.empty()) {
    event["stageVariables"] = nullptr;
  } else {
    event["stageVariables"] = info.stage_variables;
  }
  PutBody(info, &event, true);
  return event;
}

Result<HttpResponse> MapResponseV2(std::string_view payload) {
  json value = ParseJson(payload);
  if (value.is_discarded()) return Status::InvalidArgument("the function's answer is not JSON");
  HttpResponse response;
  if (value.is_object() && value.contains("statusCode")) {
    HANEUL_RETURN_IF_ERROR(MapProxyObject(value, true, &response));
    return response;
  }
  // A bare value: API Gateway infers 200 with the value as a JSON body.
  response.status = 200;
  response.headers.Set("Content-Type", "application/json");
  response.body = std::string(payload);
  return response;
}

Result<HttpResponse> MapResponseV1(std::string_view payload) {
  json value = ParseJson(payload);
  if (value.is_discarded()) return Status::InvalidArgument("the function's answer is not JSON");
  if (!value.is_object() || !value.contains("statusCode")) {
    return Status::InvalidArgument("the function's answer has no statusCode");
  }
  HttpResponse response;
  HANEUL_RETURN_IF_ERROR(MapProxyObject(value, false, &response));
  return response;
}

}  // namespace haneul::gateway

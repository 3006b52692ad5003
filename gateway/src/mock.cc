// MOCK integrations: templates and integration-response selection (see mock.h).
#include "mock.h"
#include "events.h"

#include <cctype>
#include <exception>
#include <regex>

#include "haneul/common/ids.h"

namespace haneul::gateway {

namespace {

using nlohmann::json;

std::string Trim(std::string_view text) {
  size_t start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t");
  return std::string(text.substr(start, end - start + 1));
}

// "application/json; charset=utf-8" → "application/json".
std::string MediaType(std::string_view value) {
  return Lower(Trim(value.substr(0, value.find(';'))));
}

std::optional<std::string> QueryParameter(std::string_view query, std::string_view name) {
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    std::string_view part = query.substr(start, amp == std::string_view::npos ? amp : amp - start);
    size_t eq = part.find('=');
    if (PercentDecode(part.substr(0, eq), true) == name) {
      return eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return std::nullopt;
}

std::string Text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

}  // namespace

std::optional<std::string> ContextVariable(const std::string& field, const RequestInfo& info) {
  if (field == "requestId" || field == "extendedRequestId") return info.request_id;
  if (field == "stage") return info.stage;
  if (field == "apiId") return info.api_id;
  if (field == "accountId") return info.account_id;
  if (field == "httpMethod") return info.method;
  if (field == "routeKey") return info.route_key;
  if (field == "resourcePath") return info.resource;
  if (field == "path") return PercentDecode(info.raw_path);
  if (field == "domainName") return info.domain_name;
  if (field == "domainPrefix") return info.domain_name.substr(0, info.domain_name.find('.'));
  if (field == "identity.sourceIp") return info.source_ip;
  if (field == "identity.userAgent") return std::string(info.headers.Get("user-agent"));
  if (field == "requestTime") return ApiGatewayTime(info.time_ms);
  if (field == "requestTimeEpoch") return std::to_string(info.time_ms);
  if (field.starts_with("authorizer.")) {
    const json* at = &info.authorizer;
    std::string rest = field.substr(11);
    size_t start = 0;
    while (at && start <= rest.size()) {
      size_t dot = rest.find('.', start);
      std::string key = rest.substr(start, dot == std::string::npos ? dot : dot - start);
      at = at->is_object() && at->contains(key) ? &(*at)[key] : nullptr;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return at ? Text(*at) : "";
  }
  return std::nullopt;
}

namespace {

// The value of one reference (without '$' and braces), or nullopt when it is not one haneul
// knows (VTL then writes the reference as it stands).
std::optional<std::string> Resolve(const std::string& name, const std::string& argument,
                                   bool has_call, const RequestInfo& info) {
  if (name.starts_with("context.")) return ContextVariable(name.substr(8), info);
  if (name.starts_with("stageVariables.")) {
    auto it = info.stage_variables.find(name.substr(15));
    return it == info.stage_variables.end() ? "" : it->second;
  }
  if (name == "input.body") return info.body;
  if (name == "input.json" && has_call) {
    if (info.body.empty()) return "{}";
    return info.body;
  }
  if (name == "input.params" && has_call && !argument.empty()) {
    // API Gateway's order: path, then query string, then header.
    auto path = info.path_parameters.find(argument);
    if (path != info.path_parameters.end()) return path->second;
    if (auto query = QueryParameter(info.query, argument)) return *query;
    if (info.headers.Has(argument)) return std::string(info.headers.Get(argument));
    return "";
  }
  return std::nullopt;
}

bool NameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

std::regex KeyRegex(std::string_view key) {
  return std::regex(std::string(key.substr(1, key.size() - 2)), std::regex::ECMAScript);
}

}  // namespace

std::string RenderTemplate(std::string_view text, const RequestInfo& info) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    size_t start = i;
    size_t at = i + 1;
    bool braced = text[at] == '{';
    if (braced) ++at;
    size_t name_start = at;
    while (at < text.size() && NameChar(text[at])) ++at;
    std::string name(text.substr(name_start, at - name_start));
    // A sentence's full stop is not part of the reference.
    while (!braced && name.ends_with('.')) {
      name.pop_back();
      --at;
    }
    std::string argument;
    bool has_call = false;
    if (at < text.size() && text[at] == '(') {
      size_t close = text.find(')', at);
      if (close != std::string_view::npos) {
        has_call = true;
        argument = Trim(text.substr(at + 1, close - at - 1));
        if (argument.size() >= 2 && (argument.front() == '\'' || argument.front() == '"') &&
            argument.back() == argument.front()) {
          argument = argument.substr(1, argument.size() - 2);
        }
        at = close + 1;
      }
    }
    if (braced) {
      if (at >= text.size() || text[at] != '}') {
        out += c;
        ++i;
        continue;
      }
      ++at;
    }
    auto value = name.empty() ? std::nullopt : Resolve(name, argument, has_call, info);
    if (!value) {
      out += c;
      i = start + 1;
      continue;
    }
    out += *value;
    i = at;
  }
  return out;
}

std::optional<std::string> SelectTemplate(const json& templates, std::string_view content_type) {
  if (!templates.is_object() || templates.empty()) return std::nullopt;
  size_t start = 0;
  while (start <= content_type.size()) {
    size_t comma = content_type.find(',', start);
    std::string wanted = MediaType(
        content_type.substr(start, comma == std::string_view::npos ? comma : comma - start));
    for (auto it = templates.begin(); it != templates.end(); ++it) {
      if (!wanted.empty() && Lower(it.key()) == wanted) return it.key();
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (templates.contains("application/json")) return std::string("application/json");
  return templates.begin().key();
}

Result<int> MockStatus(const json& integration, const RequestInfo& info, bool* unsupported) {
  *unsupported = false;
  const json& templates = integration.value("requestTemplates", json::object());
  std::string behavior = integration.value("passthroughBehavior", "WHEN_NO_MATCH");
  // REST's integration request: a template for the request's media type (application/json when
  // it names none), else the body passed through as PassthroughBehavior allows.
  std::string media = MediaType(info.headers.Get("content-type"));
  if (media.empty()) media = "application/json";
  std::string request;
  std::optional<std::string> key;
  if (templates.is_object()) {
    for (auto it = templates.begin(); it != templates.end(); ++it) {
      if (Lower(it.key()) == media) key = it.key();
    }
  }
  bool has_templates = templates.is_object() && !templates.empty();
  if (key) {
    request = RenderTemplate(Text(templates[*key]), info);
  } else if (behavior == "NEVER" || (behavior == "WHEN_NO_TEMPLATES" && has_templates)) {
    *unsupported = true;
    return 415;
  } else {
    request = info.body;
  }
  // A passed-through body that is not an object with a statusCode answers 200, like a mock with
  // nothing to go by.
  if (!key && request.find("statusCode") == std::string::npos) return 200;
  json parsed = json::parse(request, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("statusCode")) {
    if (!key) return 200;
    return Status::InvalidArgument("the request template has no statusCode");
  }
  const json& code = parsed["statusCode"];
  int status = 0;
  if (code.is_number_integer()) {
    status = code.get<int>();
  } else if (code.is_string()) {
    std::string text = Trim(code.get<std::string>());
    if (text.empty() || text.size() > 3 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("statusCode is not a number");
    }
    status = std::stoi(text);
  } else {
    return Status::InvalidArgument("statusCode is not a number");
  }
  // A 1xx is an interim answer in HTTP: a client would wait for a final one that never comes.
  if (status < 200 || status > 599) return Status::InvalidArgument("statusCode out of range");
  return status;
}

bool ValidIntegrationResponseKey(std::string_view key) {
  if (key == "$default") return true;
  if (key.size() < 3 || key.front() != '/' || key.back() != '/') return false;
  try {
    (void)KeyRegex(key);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

const json* SelectIntegrationResponse(const json& responses, int status) {
  if (!responses.is_array()) return nullptr;
  std::string text = std::to_string(status);
  const json* fallback = nullptr;
  for (const auto& response : responses) {
    std::string key = response.value("integrationResponseKey", "");
    if (key == "$default") {
      if (!fallback) fallback = &response;
      continue;
    }
    if (!ValidIntegrationResponseKey(key)) continue;
    try {
      if (std::regex_match(text, KeyRegex(key))) return &response;
    } catch (const std::exception&) {
      continue;  // a pathological pattern matches nothing
    }
  }
  return fallback;
}

Result<HttpResponse> MockAnswer(const json& integration, const json& responses,
                                const RequestInfo& info) {
  bool unsupported = false;
  auto status = MockStatus(integration, info, &unsupported);
  if (!status.ok()) return status.status();
  if (unsupported) {
    return HttpResponse::Json(415, json{{"message", "Unsupported Media Type"}}.dump());
  }
  const json* selected = SelectIntegrationResponse(responses, *status);
  if (!selected) {
    return Status::NotFound("no integration response matches " + std::to_string(*status) +
                            " and there is no $default");
  }
  HttpResponse response;
  response.status = *status;
  const json& templates = selected->value("responseTemplates", json::object());
  std::string_view accept = info.headers.Get("accept");
  if (auto key = SelectTemplate(templates, accept)) {
    response.body = RenderTemplate(Text(templates[*key]), info);
    response.headers.Set("Content-Type", *key);
  } else {
    response.headers.Set("Content-Type", "application/json");
  }
  const json& parameters = selected->value("responseParameters", json::object());
  if (parameters.is_object()) {
    for (auto it = parameters.begin(); it != parameters.end(); ++it) {
      std::string target = it.key();
      bool append = false;
      static const std::string kRest = "method.response.header.";
      if (target.starts_with(kRest)) {
        target = target.substr(kRest.size());
      } else if (target.starts_with("overwrite:header.")) {
        target = target.substr(17);
      } else if (target.starts_with("append:header.")) {
        target = target.substr(14);
        append = true;
      } else {
        continue;
      }
      std::string source = Text(it.value());
      std::string value;
      if (source.size() >= 2 && source.front() == '\'' && source.back() == '\'') {
        value = source.substr(1, source.size() - 2);  // a static value
      } else if (source.starts_with("context.") || source.starts_with("stageVariables.")) {
        value = RenderTemplate("$" + source, info);
      } else {
        value = RenderTemplate(source, info);
      }
      if (target.empty()) continue;
      if (append) {
        response.headers.Add(target, value);
      } else {
        response.headers.Set(target, value);
      }
    }
  }
  return response;
}

}  // namespace haneul::gateway

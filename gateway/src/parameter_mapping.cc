// Parameter mapping of HTTP APIs (see parameter_mapping.h).
#include "parameter_mapping.h"
#include "events.h"

#include <cctype>
#include <functional>
#include <optional>

#include "haneul/common/ids.h"
#include "mock.h"

namespace haneul::gateway {

namespace {

using nlohmann::json;

// API Gateway's reserved headers: parameter mapping may not touch them.
bool ReservedHeader(std::string_view name) {
  std::string lower = Lower(name);
  static const char* kExact[] = {"authorization",
                                 "connection",
                                 "content-encoding",
                                 "content-length",
                                 "content-location",
                                 "forwarded",
                                 "keep-alive",
                                 "origin",
                                 "proxy-authenticate",
                                 "proxy-authorization",
                                 "te",
                                 "trailers",
                                 "transfer-encoding",
                                 "upgrade",
                                 "x-forwarded-for",
                                 "x-forwarded-host",
                                 "x-forwarded-proto",
                                 "via",
                                 "host"};
  for (const char* exact : kExact) {
    if (lower == exact) return true;
  }
  return lower.starts_with("access-control-") || lower.starts_with("apigw-") ||
         lower.starts_with("x-amz-") || lower.starts_with("x-amzn-");
}

bool ValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Headers has no Remove: rebuild without `name`.
void RemoveHeader(Headers* headers, std::string_view name) {
  Headers kept;
  std::string lower = Lower(name);
  for (const auto& [key, value] : headers->all()) {
    if (Lower(key) != lower) kept.Add(key, value);
  }
  *headers = std::move(kept);
}

struct Key {
  std::string action;  // append, overwrite, remove
  std::string kind;    // header, querystring, path, statuscode
  std::string name;
};

std::optional<Key> ParseKey(const std::string& key) {
  size_t colon = key.find(':');
  if (colon == std::string::npos) return std::nullopt;
  Key out;
  out.action = key.substr(0, colon);
  if (out.action != "append" && out.action != "overwrite" && out.action != "remove")
    return std::nullopt;
  std::string rest = key.substr(colon + 1);
  if (rest == "path" || rest == "statuscode") {
    out.kind = rest;
    return out;
  }
  size_t dot = rest.find('.');
  if (dot == std::string::npos) return std::nullopt;
  out.kind = rest.substr(0, dot);
  out.name = rest.substr(dot + 1);
  if ((out.kind != "header" && out.kind != "querystring") || out.name.empty()) return std::nullopt;
  return out;
}

// Follows "a.b[0].c" into a JSON value; nullopt when absent.
std::optional<std::string> JsonPath(const std::string& body, const std::string& path) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return std::nullopt;
  const json* at = &doc;
  size_t i = 0;
  while (at && i < path.size()) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string::npos) return std::nullopt;
      std::string index = path.substr(i + 1, close - i - 1);
      if (index.empty() || index.size() > 9 ||
          index.find_first_not_of("0123456789") != std::string::npos || !at->is_array() ||
          std::stoul(index) >= at->size()) {
        return std::nullopt;
      }
      at = &(*at)[std::stoul(index)];
      i = close + 1;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    std::string name = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!at->is_object() || !at->contains(name)) return std::nullopt;
    at = &(*at)[name];
    i = end == std::string::npos ? path.size() : end;
  }
  if (!at) return std::nullopt;
  return at->is_string() ? at->get<std::string>() : at->dump();
}

using Resolver = std::function<std::optional<std::string>(const std::string&)>;

bool NameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == '[' || c == ']';
}

// Substitutes $name / ${name} references; unknown ones stay as written.
std::string Render(std::string_view text, const Resolver& resolve) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i++];
      continue;
    }
    bool braced = text[i + 1] == '{';
    size_t start = i + (braced ? 2 : 1);
    size_t end = start;
    if (braced) {
      end = text.find('}', start);
      if (end == std::string_view::npos) {
        out += text[i++];
        continue;
      }
    } else {
      while (end < text.size() && NameChar(text[end])) ++end;
    }
    std::string name(text.substr(start, end - start));
    auto value = name.empty() ? std::nullopt : resolve(name);
    if (!value) {
      out += text[i++];
      continue;
    }
    out += *value;
    i = braced ? end + 1 : end;
  }
  return out;
}

std::optional<std::string> RequestValue(const std::string& name, const RequestInfo& info) {
  if (name.starts_with("request.header.")) {
    std::string header = name.substr(15);
    std::string joined;
    bool any = false;
    for (const auto& [key, value] : info.headers.all()) {
      if (Lower(key) == Lower(header)) {
        joined += (any ? "," : "") + value;
        any = true;
      }
    }
    return joined;
  }
  if (name.starts_with("request.querystring.")) {
    std::string wanted = name.substr(20);
    std::string joined;
    bool any = false;
    for (const auto& [key, value] : ParseQuery(info.query)) {
      if (key == wanted) {
        joined += (any ? "," : "") + value;
        any = true;
      }
    }
    return joined;
  }
  if (name == "request.body") return info.body;
  if (name.starts_with("request.body.")) return JsonPath(info.body, name.substr(13)).value_or("");
  if (name == "request.path") {
    // The path without the stage, as API Gateway documents it.
    std::string prefix = "/" + info.stage;
    if (info.stage != "$default" &&
        (info.raw_path == prefix || info.raw_path.starts_with(prefix + "/"))) {
      std::string rest = info.raw_path.substr(prefix.size());
      return rest.empty() ? "/" : rest;
    }
    return info.raw_path;
  }
  if (name.starts_with("request.path.")) {
    auto it = info.path_parameters.find(name.substr(13));
    return it == info.path_parameters.end() ? "" : it->second;
  }
  if (name.starts_with("context.")) return ContextVariable(name.substr(8), info);
  if (name.starts_with("stageVariables.")) {
    auto it = info.stage_variables.find(name.substr(15));
    return it == info.stage_variables.end() ? "" : it->second;
  }
  return std::nullopt;
}

Status CheckStringMap(const json& value, const std::string& what) {
  if (!value.is_object()) return Status::InvalidArgument("Invalid " + what + ": a map of strings");
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!it.value().is_string())
      return Status::InvalidArgument("Invalid " + what + " value for " + it.key());
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    std::string_view part = query.substr(start, amp == std::string_view::npos ? amp : amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      pairs.emplace_back(
          PercentDecode(part.substr(0, eq), true),
          eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return pairs;
}

std::string BuildQuery(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [name, value] : pairs) {
    out += (out.empty() ? "" : "&") + PercentEncode(name) + "=" + PercentEncode(value);
  }
  return out;
}

Status ValidateRequestParameters(const json& parameters) {
  HANEUL_RETURN_IF_ERROR(CheckStringMap(parameters, "requestParameters"));
  for (auto it = parameters.begin(); it != parameters.end(); ++it) {
    auto key = ParseKey(it.key());
    if (!key || key->kind == "statuscode" || (key->kind == "path" && key->action != "overwrite")) {
      return Status::InvalidArgument("Invalid mapping expression specified: " + it.key() +
                                     " (append|overwrite|remove:header.NAME, "
                                     "append|overwrite|remove:querystring.NAME or overwrite:path)");
    }
    if (key->kind == "header" && (!ValidHeaderName(key->name) || ReservedHeader(key->name))) {
      return Status::InvalidArgument("Invalid mapping expression specified: header " + key->name +
                                     " is reserved or not a header name");
    }
  }
  return Status::Ok();
}

Status ValidateResponseParameters(const json& parameters) {
  if (!parameters.is_object())
    return Status::InvalidArgument("Invalid responseParameters: a map by status code");
  for (auto status = parameters.begin(); status != parameters.end(); ++status) {
    const std::string& code = status.key();
    if (code.size() != 3 || code.find_first_not_of("0123456789") != std::string::npos ||
        code[0] < '1' || code[0] > '5') {
      return Status::InvalidArgument("Invalid responseParameters key " + code + ": a status code");
    }
    HANEUL_RETURN_IF_ERROR(CheckStringMap(status.value(), "responseParameters." + code));
    for (auto it = status.value().begin(); it != status.value().end(); ++it) {
      auto key = ParseKey(it.key());
      if (!key || key->kind == "querystring" || key->kind == "path" ||
          (key->kind == "statuscode" && key->action != "overwrite")) {
        return Status::InvalidArgument(
            "Invalid mapping expression specified: " + it.key() +
            " (append|overwrite|remove:header.NAME or overwrite:statuscode)");
      }
      if (key->kind == "header" && (!ValidHeaderName(key->name) || ReservedHeader(key->name))) {
        return Status::InvalidArgument("Invalid mapping expression specified: header " + key->name +
                                       " is reserved or not a header name");
      }
    }
  }
  return Status::Ok();
}

void ApplyRequestParameters(const json& parameters, const RequestInfo& info,
                            MappedRequest* request) {
  if (!parameters.is_object()) return;
  Resolver resolve = [&info](const std::string& name) { return RequestValue(name, info); };
  for (auto it = parameters.begin(); it != parameters.end(); ++it) {
    auto key = ParseKey(it.key());
    if (!key || !it.value().is_string()) continue;
    std::string value = Render(it.value().get<std::string>(), resolve);
    if (key->kind == "path") {
      // The value is a decoded path: encode each segment again.
      std::string encoded;
      size_t start = 0;
      while (start <= value.size()) {
        size_t slash = value.find('/', start);
        std::string segment =
            value.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        encoded += PercentEncode(segment);
        if (slash == std::string::npos) break;
        encoded += "/";
        start = slash + 1;
      }
      request->path = encoded.starts_with("/") ? encoded : "/" + encoded;
    } else if (key->kind == "header") {
      if (key->action == "remove") {
        RemoveHeader(&request->headers, key->name);
      } else if (key->action == "overwrite") {
        request->headers.Set(key->name, value);
      } else {
        request->headers.Add(key->name, value);
      }
    } else if (key->kind == "querystring") {
      auto& query = request->query;
      if (key->action != "append") {
        std::erase_if(query, [&key](const auto& pair) { return pair.first == key->name; });
      }
      if (key->action != "remove") query.emplace_back(key->name, value);
    }
  }
}

void ApplyResponseParameters(const json& parameters, const RequestInfo& info,
                             HttpResponse* response) {
  if (!parameters.is_object()) return;
  auto entry = parameters.find(std::to_string(response->status));
  if (entry == parameters.end() || !entry->is_object()) return;
  // Values see the integration's answer as it came, before any of these mappings.
  HttpResponse original = *response;
  Resolver resolve = [&info, &original](const std::string& name) -> std::optional<std::string> {
    if (name.starts_with("response.header."))
      return std::string(original.headers.Get(name.substr(16)));
    if (name == "response.body") return original.body;
    if (name.starts_with("response.body."))
      return JsonPath(original.body, name.substr(14)).value_or("");
    return RequestValue(name, info);
  };
  for (auto it = entry->begin(); it != entry->end(); ++it) {
    auto key = ParseKey(it.key());
    if (!key || !it.value().is_string()) continue;
    std::string value = Render(it.value().get<std::string>(), resolve);
    if (key->kind == "statuscode") {
      // 1xx would be an interim answer that leaves the client waiting: not a mapping target.
      if (value.size() == 3 && value.find_first_not_of("0123456789") == std::string::npos &&
          value[0] >= '2' && value[0] <= '5') {
        response->status = std::stoi(value);
      }
    } else if (key->kind == "header") {
      if (key->action == "remove") {
        RemoveHeader(&response->headers, key->name);
      } else if (key->action == "overwrite") {
        response->headers.Set(key->name, value);
      } else {
        response->headers.Add(key->name, value);
      }
    }
  }
}

}  // namespace haneul::gateway

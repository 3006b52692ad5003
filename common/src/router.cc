// Router: path patterns with {param} segments, and percent-encoding helpers.
#include <cctype>

#include "haneul/common/http.h"

namespace haneul {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = path.starts_with('/') ? 1 : 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      break;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

}  // namespace

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int high = HexValue(text[i + 1]);
      int low = HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string PercentEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

void Router::Add(std::string method, std::string pattern, Route route) {
  std::vector<std::string> segments;
  for (std::string_view segment : Split(pattern)) segments.emplace_back(segment);
  entries_.push_back({std::move(method), std::move(pattern), std::move(segments), std::move(route)});
}

namespace {

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Matches split pattern segments against split path segments. Checks first, then builds the
// parameters, so the many routes that do not match allocate nothing.
template <typename Segments>
std::optional<Router::Params> MatchSplit(const Segments& want,
                                         const std::vector<std::string_view>& have) {
  bool greedy = false;
  for (size_t i = 0; i < want.size(); ++i) {
    std::string_view segment = want[i];
    bool is_param = IsParam(segment);
    if (i >= have.size()) return std::nullopt;
    if (is_param && segment[segment.size() - 2] == '+') {
      greedy = true;
      break;
    }
    if (is_param) {
      if (have[i].empty()) return std::nullopt;
    } else if (segment != have[i]) {
      return std::nullopt;
    }
  }
  if (!greedy && have.size() != want.size()) return std::nullopt;
  Router::Params params;
  for (size_t i = 0; i < want.size(); ++i) {
    std::string_view segment = want[i];
    if (!IsParam(segment)) continue;
    if (segment[segment.size() - 2] == '+') {
      // Greedy: the rest of the path, slashes included.
      std::string rest;
      for (size_t j = i; j < have.size(); ++j) {
        if (j > i) rest += '/';
        rest += have[j];
      }
      params[std::string(segment.substr(1, segment.size() - 3))] = PercentDecode(rest);
      return params;
    }
    params[std::string(segment.substr(1, segment.size() - 2))] = PercentDecode(have[i]);
  }
  return params;
}

}  // namespace

std::optional<Router::Params> Router::Match(std::string_view pattern, std::string_view path) {
  return MatchSplit(Split(pattern), Split(path));
}

bool Router::Dispatch(HttpRequest& request, const std::shared_ptr<Responder>& responder) const {
  std::vector<std::string_view> have;  // split once, on the first route of the method
  for (const auto& entry : entries_) {
    if (entry.method != request.method) continue;
    if (have.empty()) have = Split(request.path);
    auto params = MatchSplit(entry.segments, have);
    if (!params) continue;
    entry.route(request, *params, responder);
    return true;
  }
  return false;
}

}  // namespace haneul

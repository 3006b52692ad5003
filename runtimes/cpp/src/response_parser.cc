// See response_parser.h. The grammar is RFC 9112's, applied strictly where leniency could let
// two readers of the same bytes disagree on where a response ends.
#include "response_parser.h"

#include <algorithm>
#include <cstring>

namespace haneul::runtime {
namespace {

constexpr size_t kMaxChunkLineBytes = 4096;  // "<hex>;extensions" CRLF
constexpr size_t kInitialBodyReserve = 1024 * 1024;

char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

// RFC 9110 tchar.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

// Field values and reason phrases: visible characters, SP, HT and obs-text; no other controls.
bool IsValueText(std::string_view text) {
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

std::string_view TrimWhitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The comma-separated elements of a list-valued header, trimmed, empty elements skipped.
template <typename Visit>
void ForEachListElement(std::string_view value, Visit visit) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view element = TrimWhitespace(value.substr(0, comma));
    if (!element.empty()) visit(element);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

bool HttpResponse::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& header) { return EqualsIgnoreCase(header.first, name); });
}

ResponseParser::State ResponseParser::state() const {
  if (phase_ == Phase::kDone) return State::kComplete;
  if (phase_ == Phase::kError) return State::kError;
  return State::kNeedMore;
}

void ResponseParser::Reset() {
  Limits limits = limits_;
  *this = ResponseParser(limits);
}

ResponseParser::State ResponseParser::Fail(std::string message) {
  phase_ = Phase::kError;
  error_ = std::move(message);
  return State::kError;
}

bool ResponseParser::TakeLine(std::string_view data, size_t* pos, size_t limit,
                              std::string_view* line) {
  const char* start = data.data() + *pos;
  size_t available = data.size() - *pos;
  const void* newline = std::memchr(start, '\n', available);
  size_t piece =
      newline ? static_cast<size_t>(static_cast<const char*>(newline) - start) + 1 : available;
  head_bytes_ += piece;
  if (head_bytes_ > limit) {
    Fail(phase_ == Phase::kHead || phase_ == Phase::kTrailers ? "header section too large"
                                                              : "chunk framing line too long");
    return false;
  }
  *pos += piece;
  if (!newline) {
    line_.append(start, piece);
    return false;
  }
  std::string_view text(start, piece - 1);
  if (!line_.empty()) {
    line_.append(text);
    text = line_;
  }
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  *line = text;
  return true;
}

bool ResponseParser::ParseStatusLine(std::string_view line) {
  // HTTP-version SP 3DIGIT SP [reason-phrase]; a missing SP before an empty reason is tolerated.
  constexpr std::string_view kPrefix = "HTTP/1.";
  if (line.size() < 12 || line.substr(0, kPrefix.size()) != kPrefix) {
    Fail("malformed status line");
    return false;
  }
  char minor = line[7];
  if (minor < '0' || minor > '9' || line[8] != ' ') {
    Fail("unsupported HTTP version");
    return false;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      Fail("malformed status code");
      return false;
    }
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) {
    Fail("malformed status code");
    return false;
  }
  if (line.size() > 12 && (line[12] != ' ' || !IsValueText(line.substr(13)))) {
    Fail("malformed reason phrase");
    return false;
  }
  response_.status = status;
  response_.minor_version = minor - '0';
  saw_status_line_ = true;
  return true;
}

bool ResponseParser::ParseHeaderLine(std::string_view line, bool trailer) {
  if (line.front() == ' ' || line.front() == '\t') {
    Fail("obsolete line folding in header");
    return false;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    Fail("malformed header line");
    return false;
  }
  std::string_view name = line.substr(0, colon);
  for (unsigned char c : name) {
    if (!IsTokenChar(c)) {
      Fail("invalid character in header name");
      return false;
    }
  }
  std::string_view value = TrimWhitespace(line.substr(colon + 1));
  if (!IsValueText(value)) {
    Fail("invalid character in header value");
    return false;
  }
  response_.headers.emplace_back(std::string(name), std::string(value));
  if (trailer) return true;  // framing and connection fields in trailers carry no meaning

  if (EqualsIgnoreCase(name, "content-length")) {
    if (value.empty()) {
      Fail("empty Content-Length");
      return false;
    }
    uint64_t length = 0;
    for (char c : value) {
      if (c < '0' || c > '9') {
        Fail("invalid Content-Length");
        return false;
      }
      if (length > (UINT64_MAX - 9) / 10) {
        Fail("Content-Length overflows");
        return false;
      }
      length = length * 10 + static_cast<uint64_t>(c - '0');
    }
    if (has_content_length_ && length != content_length_) {
      Fail("conflicting Content-Length headers");
      return false;
    }
    has_content_length_ = true;
    content_length_ = length;
  } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
    has_transfer_encoding_ = true;
    // Only the last coding decides the framing: "gzip, chunked" is chunked, "chunked, gzip" is not
    // (and such a response body runs to the end of the connection). Repeated headers concatenate.
    ForEachListElement(
        value, [&](std::string_view coding) { chunked_ = EqualsIgnoreCase(coding, "chunked"); });
  } else if (EqualsIgnoreCase(name, "connection")) {
    ForEachListElement(value, [&](std::string_view option) {
      if (EqualsIgnoreCase(option, "close")) connection_close_ = true;
      if (EqualsIgnoreCase(option, "keep-alive")) connection_keep_alive_ = true;
    });
  }
  return true;
}

bool ResponseParser::StartBody() {
  if (has_transfer_encoding_ && has_content_length_) {
    Fail("both Content-Length and Transfer-Encoding");
    return false;
  }
  response_.keep_alive = response_.minor_version >= 1
                             ? !connection_close_
                             : connection_keep_alive_ && !connection_close_;
  int status = response_.status;
  if (status == 101) {
    Fail("unexpected protocol switch");
    return false;
  }
  if (status == 204 || status == 304) {  // never a body, whatever the headers say
    phase_ = Phase::kDone;
    return true;
  }
  if (has_transfer_encoding_) {
    if (chunked_) {
      head_bytes_ = 0;
      phase_ = Phase::kChunkSize;
    } else {
      response_.keep_alive = false;
      phase_ = Phase::kBodyUntilClose;
    }
    return true;
  }
  if (has_content_length_) {
    if (content_length_ > limits_.max_body_bytes) {
      Fail("body larger than the limit");
      return false;
    }
    remaining_ = content_length_;
    response_.body.reserve(std::min<uint64_t>(content_length_, kInitialBodyReserve));
    phase_ = remaining_ == 0 ? Phase::kDone : Phase::kFixedBody;
    return true;
  }
  response_.keep_alive = false;
  phase_ = Phase::kBodyUntilClose;
  return true;
}

bool ResponseParser::ParseChunkSize(std::string_view line) {
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size(); ++i) {
    int digit = HexDigit(line[i]);
    if (digit < 0) break;
    size = size * 16 + static_cast<uint64_t>(digit);
    if (size > limits_.max_body_bytes) {  // also keeps the next multiplication from overflowing
      Fail("body larger than the limit");
      return false;
    }
  }
  if (i == 0) {
    Fail("malformed chunk size");
    return false;
  }
  std::string_view rest = line.substr(i);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (!rest.empty() && (rest.front() != ';' || !IsValueText(rest))) {
    Fail("malformed chunk extension");
    return false;
  }
  if (response_.body.size() + size > limits_.max_body_bytes) {
    Fail("body larger than the limit");
    return false;
  }
  head_bytes_ = 0;
  if (size == 0) {
    phase_ = Phase::kTrailers;
  } else {
    remaining_ = size;
    phase_ = Phase::kChunkData;
  }
  return true;
}

ResponseParser::State ResponseParser::Feed(std::string_view data, size_t* consumed) {
  size_t pos = 0;
  while (pos < data.size() && phase_ != Phase::kDone && phase_ != Phase::kError) {
    started_ = true;
    std::string_view line;
    switch (phase_) {
      case Phase::kHead: {
        if (!TakeLine(data, &pos, limits_.max_header_bytes, &line)) break;
        if (!saw_status_line_) {
          // Stray empty lines before a status line (a CRLF too many after the previous body)
          // are skipped, as RFC 9112 section 2.2 allows.
          if (!line.empty()) ParseStatusLine(line);
        } else if (!line.empty()) {
          ParseHeaderLine(line, /*trailer=*/false);
        } else if (response_.status >= 100 && response_.status < 200 && response_.status != 101) {
          // An interim response (100 Continue, 103 Early Hints): drop it, the final one follows.
          Reset();
          started_ = true;
        } else {
          StartBody();
        }
        line_.clear();
        break;
      }
      case Phase::kFixedBody: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - pos));
        response_.body.append(data.data() + pos, take);
        pos += take;
        remaining_ -= take;
        if (remaining_ == 0) phase_ = Phase::kDone;
        break;
      }
      case Phase::kChunkSize: {
        if (!TakeLine(data, &pos, kMaxChunkLineBytes, &line)) break;
        ParseChunkSize(line);
        line_.clear();
        break;
      }
      case Phase::kChunkData: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - pos));
        response_.body.append(data.data() + pos, take);
        pos += take;
        remaining_ -= take;
        if (remaining_ == 0) {
          head_bytes_ = 0;
          phase_ = Phase::kChunkDataEnd;
        }
        break;
      }
      case Phase::kChunkDataEnd: {
        if (!TakeLine(data, &pos, 2, &line)) break;
        if (!line.empty()) {
          Fail("chunk data longer than its size");
        } else {
          head_bytes_ = 0;
          phase_ = Phase::kChunkSize;
        }
        line_.clear();
        break;
      }
      case Phase::kTrailers: {
        if (!TakeLine(data, &pos, limits_.max_header_bytes, &line)) break;
        if (line.empty()) {
          phase_ = Phase::kDone;
        } else {
          ParseHeaderLine(line, /*trailer=*/true);
        }
        line_.clear();
        break;
      }
      case Phase::kBodyUntilClose: {
        size_t take = data.size() - pos;
        if (response_.body.size() + take > limits_.max_body_bytes) {
          Fail("body larger than the limit");
          break;
        }
        response_.body.append(data.data() + pos, take);
        pos += take;
        break;
      }
      case Phase::kDone:
      case Phase::kError:
        break;
    }
  }
  *consumed = pos;
  return state();
}

ResponseParser::State ResponseParser::FinishOnEof() {
  switch (phase_) {
    case Phase::kBodyUntilClose:
      response_.keep_alive = false;
      phase_ = Phase::kDone;
      return State::kComplete;
    case Phase::kDone:
      return State::kComplete;
    case Phase::kError:
      return State::kError;
    default:
      return Fail(started_ ? "connection closed in the middle of a response"
                           : "connection closed before a response");
  }
}

}  // namespace haneul::runtime

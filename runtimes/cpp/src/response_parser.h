// An incremental HTTP/1.1 response parser for the Runtime API client: status line, headers, and
// a body framed by Content-Length, chunked transfer coding, or the end of the connection.
//
// The bytes come from the other side of a socket, so they are untrusted: every size is bounded
// (header block, body), every number is checked for overflow, and anything ambiguous that could
// desynchronise a kept-alive connection (Content-Length together with Transfer-Encoding, two
// different Content-Lengths, folded header lines) is refused instead of guessed at.
// Fuzzed by fuzz/response_parser_fuzz.cc.
//
// Thread-compatible: one parser per connection, used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace haneul::runtime {

struct HttpResponse {
  int status = 0;
  int minor_version = 1;  // HTTP/1.<minor_version>
  // In arrival order, names as sent; trailers of a chunked body are appended.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Whether the connection may carry another request: HTTP/1.1 unless "Connection: close",
  // HTTP/1.0 only with "Connection: keep-alive", never when the body ran to the end of stream.
  bool keep_alive = true;

  // The first header of that name (ASCII case-insensitive), or "" when absent.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

class ResponseParser {
 public:
  enum class State { kNeedMore, kComplete, kError };

  struct Limits {
    size_t max_header_bytes = 64 * 1024;  // status line + headers, and the trailers separately
    size_t max_body_bytes = 32 * 1024 * 1024;
  };

  ResponseParser() : ResponseParser(Limits{}) {}
  explicit ResponseParser(Limits limits) : limits_(limits) {}

  // Consumes a prefix of data and sets *consumed to its length. Returns kComplete once a whole
  // response has been read (bytes after it are left unconsumed: they belong to the next one),
  // kNeedMore when data ran out first, kError (sticky until Reset) when the bytes are not a
  // valid response or break a limit.
  State Feed(std::string_view data, size_t* consumed);
  // The peer closed the connection. Completes a body that runs to the end of the stream;
  // anything else cut short becomes kError.
  State FinishOnEof();

  State state() const;
  // True once any byte of the current response has been consumed.
  bool started() const { return started_; }
  const std::string& error() const { return error_; }
  const HttpResponse& response() const { return response_; }
  HttpResponse TakeResponse() { return std::move(response_); }
  // Readies the parser for the next response on the same connection.
  void Reset();

 private:
  enum class Phase {
    kHead,            // status line and header lines, until an empty line
    kFixedBody,       // Content-Length bytes
    kChunkSize,       // "<hex>[;ext]" line
    kChunkData,       // chunk bytes
    kChunkDataEnd,    // the CRLF after a chunk's data
    kTrailers,        // trailer lines after the last chunk, until an empty line
    kBodyUntilClose,  // no framing: the body ends with the connection
    kDone,
    kError,
  };

  // Takes one line (without its CRLF or LF) from data into line_; false if none is complete yet.
  bool TakeLine(std::string_view data, size_t* pos, size_t limit, std::string_view* line);
  State Fail(std::string message);
  bool ParseStatusLine(std::string_view line);
  bool ParseHeaderLine(std::string_view line, bool trailer);
  // Called after the empty line ending the head: picks the body framing.
  bool StartBody();
  bool ParseChunkSize(std::string_view line);

  Limits limits_;
  Phase phase_ = Phase::kHead;
  HttpResponse response_;
  std::string line_;       // a line split across Feed calls
  size_t head_bytes_ = 0;  // bytes of the head (or trailers) seen so far, for the limit
  bool saw_status_line_ = false;
  bool started_ = false;
  bool chunked_ = false;
  bool has_content_length_ = false;
  bool has_transfer_encoding_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  uint64_t content_length_ = 0;
  uint64_t remaining_ = 0;  // bytes left in the fixed body or the current chunk
  std::string error_;
};

}  // namespace haneul::runtime

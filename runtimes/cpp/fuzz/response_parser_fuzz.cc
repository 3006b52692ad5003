// libFuzzer target for ResponseParser: the bytes a Runtime API (or anything pretending to be one)
// may send back. Besides not crashing, it checks that framing does not depend on how the bytes
// were split across reads: one Feed of everything and many small Feeds must agree on every
// response of the stream, which is what keeps a kept-alive connection in sync.
//
// With GCC this builds against fuzz/replay_main.cc and replays fuzz/corpus/ as a ctest.
// To fuzz for real (clang 14's libFuzzer works on these machines), from the repository root:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I runtimes/cpp/src
//       runtimes/cpp/fuzz/response_parser_fuzz.cc runtimes/cpp/src/response_parser.cc
//       -o /tmp/response_parser_fuzz
//   mkdir -p /tmp/parser_corpus
//   /tmp/response_parser_fuzz -max_total_time=300 /tmp/parser_corpus runtimes/cpp/fuzz/corpus
// then keep what is new, minimised, in the checked-in corpus:
//   /tmp/response_parser_fuzz -merge=1 runtimes/cpp/fuzz/corpus /tmp/parser_corpus
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "response_parser.h"

namespace {

using haneul::runtime::HttpResponse;
using haneul::runtime::ResponseParser;

struct Outcome {
  ResponseParser::State state = ResponseParser::State::kNeedMore;
  HttpResponse response;
  size_t consumed = 0;  // of the whole input, up to the end of this response
};

void Check(bool condition) {
  if (!condition) std::abort();
}

// Parses up to a few pipelined responses from input, feeding it in pieces of the given sizes
// (cycled; 0 means "everything that is left").
std::vector<Outcome> ParseStream(std::string_view input, const std::vector<size_t>& pieces,
                                 ResponseParser::Limits limits) {
  std::vector<Outcome> outcomes;
  ResponseParser parser(limits);
  size_t offset = 0;
  size_t piece_index = 0;
  while (outcomes.size() < 4) {
    ResponseParser::State state = ResponseParser::State::kNeedMore;
    while (offset < input.size()) {
      size_t want = pieces[piece_index++ % pieces.size()];
      if (want == 0 || want > input.size() - offset) want = input.size() - offset;
      size_t consumed = 0;
      state = parser.Feed(input.substr(offset, want), &consumed);
      Check(consumed <= want);
      if (state == ResponseParser::State::kNeedMore) Check(consumed == want);
      offset += consumed;
      if (state != ResponseParser::State::kNeedMore) break;
    }
    if (state == ResponseParser::State::kNeedMore) state = parser.FinishOnEof();
    Check(state == parser.state());
    Outcome outcome;
    outcome.state = state;
    outcome.consumed = offset;
    if (state == ResponseParser::State::kComplete) {
      outcome.response = parser.TakeResponse();
      Check(outcome.response.status >= 100 && outcome.response.status <= 999);
      Check(outcome.response.body.size() <= limits.max_body_bytes);
      if (outcome.response.status == 204 || outcome.response.status == 304) {
        Check(outcome.response.body.empty());
      }
    }
    outcomes.push_back(std::move(outcome));
    if (state != ResponseParser::State::kComplete || offset == input.size()) break;
    if (!outcomes.back().response.keep_alive) break;
    parser.Reset();
  }
  return outcomes;
}

void CheckSame(const std::vector<Outcome>& a, const std::vector<Outcome>& b) {
  Check(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    Check(a[i].state == b[i].state);
    if (a[i].state != ResponseParser::State::kComplete) continue;
    Check(a[i].consumed == b[i].consumed);
    Check(a[i].response.status == b[i].response.status);
    Check(a[i].response.minor_version == b[i].response.minor_version);
    Check(a[i].response.keep_alive == b[i].response.keep_alive);
    Check(a[i].response.headers == b[i].response.headers);
    Check(a[i].response.body == b[i].response.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Split sizes come from the input's length so that a given input always replays the same way.
  std::vector<size_t> uneven;
  uint32_t seed = static_cast<uint32_t>(size) * 2654435761u + 1;
  for (int i = 0; i < 16; ++i) {
    seed = seed * 1664525u + 1013904223u;
    uneven.push_back(1 + (seed >> 24) % 23);
  }
  for (ResponseParser::Limits limits :
       {ResponseParser::Limits{},
        ResponseParser::Limits{.max_header_bytes = 200, .max_body_bytes = 300}}) {
    std::vector<Outcome> whole = ParseStream(input, {0}, limits);
    CheckSame(whole, ParseStream(input, {1}, limits));
    CheckSame(whole, ParseStream(input, uneven, limits));
  }
  return 0;
}

// Fuzz target: SigV4 verification of untrusted requests. The input's lines are: the
// Authorization header, the raw request target (path?query), then the body.
// With clang: clang++ -fsanitize=fuzzer,address ...; the GCC build replays fuzz/sigv4_corpus
// through replay_main.cc as a regression test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "haneul/common/sigv4.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t first = input.find('\n');
  size_t second = first == std::string::npos ? first : input.find('\n', first + 1);
  haneul::HttpRequest request;
  request.method = "POST";
  request.headers.Add("Authorization", input.substr(0, first));
  request.headers.Add("Host", "127.0.0.1");
  request.headers.Add("X-Amz-Date", "20261124T213000Z");
  request.target = first == std::string::npos ? "/" : input.substr(first + 1, second - first - 1);
  auto question = request.target.find('?');
  request.path = request.target.substr(0, question);
  request.query = question == std::string::npos ? "" : request.target.substr(question + 1);
  request.body = second == std::string::npos ? "" : input.substr(second + 1);
  std::map<std::string, std::string> secrets = {{"AKIDEXAMPLE", "secret"}};
  (void)haneul::VerifySigV4(request, secrets, 1795555800);
  request.headers = haneul::Headers();
  (void)haneul::VerifySigV4(request, secrets, 1795555800);  // the presigned form, from the query
  (void)haneul::SigV4Service(request);
  return 0;
}

// Fuzz target: the Lambda request parsers that see untrusted bytes: a CreateFunction /
// UpdateFunctionConfiguration body and a FunctionName path parameter.
// With clang: clang++ -fsanitize=fuzzer,address -std=c++20 ... to fuzz for real; the GCC build
// replays fuzz/corpus through replay_main.cc as a regression test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "function_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  haneul::AwsError error;
  if (auto body = haneul::invoker::ParseJsonObject(input, &error)) {
    haneul::invoker::FunctionConfig config;
    haneul::invoker::ApplyConfigRequest(*body, true, &config, &error);
    haneul::invoker::FunctionConfig update;
    haneul::invoker::ApplyConfigRequest(*body, false, &update, &error);
  }
  haneul::invoker::ParseFunctionRef(input.substr(0, 200), haneul::invoker::AccountInfo(), &error);
  return 0;
}

// provided-noop: the smallest `provided.al2023` function, a bootstrap built with the haneul C++
// runtime client that answers every event with {}. The benchmarks use it to measure what an
// invocation costs when the handler itself costs nothing.
//
// Package: zip the built `bootstrap` (executable) at the root of the archive, then create the
// function with Runtime provided.al2023 (the handler name is not used by a custom runtime).
#include "haneul/runtime/runtime.h"

int main() {
  return haneul::runtime::Run([](const haneul::runtime::InvocationRequest&) {
    return haneul::runtime::InvocationResponse::Success("{}", "application/json");
  });
}

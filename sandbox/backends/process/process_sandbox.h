// The `process` sandbox backend: a plain child process in its own session and process group, with
// no isolation and no enforced limits. For development, and as the baseline the `namespace`
// backend is measured against.
#pragma once

#include <memory>

#include "haneul/sandbox/sandbox.h"

namespace haneul::sandbox {

Result<std::unique_ptr<Sandbox>> MakeProcessSandbox(const SandboxOptions& options);

}  // namespace haneul::sandbox

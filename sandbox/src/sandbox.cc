// The explicit table of sandbox backends.
#include "haneul/sandbox/sandbox.h"

#ifdef HANEUL_WITH_PROCESS_SANDBOX
#include "process/process_sandbox.h"
#endif
#ifdef HANEUL_WITH_NAMESPACE_SANDBOX
#include "namespace/namespace_sandbox.h"
#endif

namespace haneul::sandbox {

namespace {

struct Backend {
  const char* name;
  Result<std::unique_ptr<Sandbox>> (*make)(const SandboxOptions&);
};

const Backend kBackends[] = {
#ifdef HANEUL_WITH_PROCESS_SANDBOX
    {"process", &MakeProcessSandbox},
#endif
#ifdef HANEUL_WITH_NAMESPACE_SANDBOX
    {"namespace", &MakeNamespaceSandbox},
#endif
    {nullptr, nullptr},
};

}  // namespace

std::vector<std::string> SandboxBackends() {
  std::vector<std::string> names;
  for (const auto& backend : kBackends) {
    if (backend.name) names.emplace_back(backend.name);
  }
  return names;
}

Result<std::unique_ptr<Sandbox>> MakeSandbox(const std::string& name,
                                             const SandboxOptions& options) {
  for (const auto& backend : kBackends) {
    if (backend.name && name == backend.name) return backend.make(options);
  }
  std::string known;
  for (const auto& backend : SandboxBackends()) known += (known.empty() ? "" : ", ") + backend;
  return Status::InvalidArgument("unknown sandbox backend '" + name + "' (built in: " + known + ")");
}

}  // namespace haneul::sandbox

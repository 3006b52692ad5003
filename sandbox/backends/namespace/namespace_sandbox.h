// The `namespace` sandbox backend: each worker is cloned into new pid, mount, uts, ipc and network
// namespaces, is PID 1 of its pid namespace (one SIGKILL ends its whole tree), runs in a cgroup
// with its memory, pids and CPU limits, pivot_roots into a read-only root built from the host's
// /usr plus the function code at /var/task, with a tmpfs /tmp sized by EphemeralStorage, a
// /proc of its own and a minimal /dev, and execs as an unprivileged user with no capabilities
// under a seccomp filter. The Runtime API socket is created inside its network namespace at
// 127.0.0.1:9001 and handed to the invoker, which serves it from its own loop.
#pragma once

#include <memory>

#include "haneul/sandbox/sandbox.h"

namespace haneul::sandbox {

// Fails (Unavailable, with the reason) where the kernel or the privileges do not allow it.
Result<std::unique_ptr<Sandbox>> MakeNamespaceSandbox(const SandboxOptions& options);

}  // namespace haneul::sandbox

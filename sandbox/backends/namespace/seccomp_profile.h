// The seccomp profile and privilege drop of a worker, applied in the worker process between the
// sandbox set-up and execve. Each allowed or denied syscall carries its reason in
// seccomp_profile.cc.
// Thread-safety: called in the single-threaded child before exec.
#pragma once

#include <sys/types.h>

#include "haneul/common/status.h"

namespace haneul::sandbox {

// Sets no_new_privs, drops every capability from the bounding set, switches to uid/gid (and no
// supplementary groups), leaving the process with no capabilities at all. Must run as root.
Status DropPrivileges(uid_t uid, gid_t gid);

// Installs the filter: Docker's default deny list and more (mount, umount2, pivot_root, ptrace,
// kexec_*, init_module/finit_module/delete_module, bpf, perf_event_open, keyctl/add_key/
// request_key, unshare and setns, clone/clone3 with any CLONE_NEW* flag, ...) answered with
// EPERM; everything else allowed. Call last before execve (after DropPrivileges).
Status InstallSeccompProfile();

}  // namespace haneul::sandbox

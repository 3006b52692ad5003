// The seccomp profile and privilege drop of a worker, applied in the worker process between the
// sandbox set-up and execve. Each allowed or denied syscall carries its reason in
// seccomp_profile.cc.
// Thread-safety: called in the single-threaded child before exec.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <vector>

#include "haneul/common/status.h"

namespace haneul::sandbox {

// Sets no_new_privs, drops every capability from the bounding set, switches to uid/gid (and no
// supplementary groups), leaving the process with no capabilities at all. Must run as root.
Status DropPrivileges(uid_t uid, gid_t gid);

// Installs the filter: Docker's default deny list and more (mount, umount2, pivot_root, ptrace,
// kexec_*, init_module/finit_module/delete_module, bpf, perf_event_open, keyctl/add_key/
// request_key, unshare and setns, clone/clone3 with any CLONE_NEW* flag, ...) answered with
// EPERM; everything else allowed. Call last before execve (after DropPrivileges, which sets
// no_new_privs). It is BuildSeccompProgram + LoadSeccompProgram, and binds the calling thread.
Status InstallSeccompProfile();

// For a worker cloned with CLONE_VM (it shares the server's heap, so it must not allocate): the
// same profile compiled once, in the server, to a classic BPF program...
Result<std::vector<sock_filter>> BuildSeccompProgram();
// ...and loaded in the worker with one prctl. Returns 0 or an errno. Needs no_new_privs.
int LoadSeccompProgram(const std::vector<sock_filter>& program);
// The same profile in two stacked programs, for a sandbox slot that loads most of it while it
// waits for a function: `waiting` is every rule except the denials of mount, umount2, move_mount
// and pivot_root (which the slot's start still makes); `start`, loaded right before execve, is
// just those denials. Stacked, they answer every syscall exactly as BuildSeccompProgram's does.
struct SeccompStages {
  std::vector<sock_filter> waiting;
  std::vector<sock_filter> start;
};
Result<SeccompStages> BuildSeccompStages();
// DropPrivileges' steps as bare syscalls, for the same worker: no allocation, no checks beyond
// each call's result. last_capability is /proc/sys/kernel/cap_last_cap, read beforehand.
// Returns 0 or an errno.
int DropPrivilegesWithoutAllocating(uid_t uid, gid_t gid, int last_capability);
// Its two halves, for a slot that drops what it can while it waits: no_new_privs, the bounding
// and ambient sets (the process keeps its effective capabilities; exec can gain none)...
int DropBoundingSetWithoutAllocating(int last_capability);
// ...and later, right before exec, groups, gid, uid and the remaining capability sets.
int DropIdentityWithoutAllocating(uid_t uid, gid_t gid);
// /proc/sys/kernel/cap_last_cap (probed with PR_CAPBSET_READ where /proc is missing).
int LastCapability();

}  // namespace haneul::sandbox

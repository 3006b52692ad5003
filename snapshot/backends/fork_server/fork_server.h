// The fork-server snapshot backend: the initialised runtime itself is the snapshot. After init it
// listens on a control channel (control_protocol.h) and forks a ready copy per request; each copy
// gets its own Runtime API connection, stdout/stderr pipes, process group, cgroup (with the
// namespace sandbox) and /tmp folder, and reseeds what must be unique (the runtime's part).
// Suits single-threaded runtimes only (fork copies just the calling thread).
// Thread-safety: loop thread only, like every Snapshotter.
#pragma once

#include <memory>

#include "haneul/snapshot/snapshotter.h"

namespace haneul::snapshot::fork_server {

Result<std::unique_ptr<Snapshotter>> MakeForkServerSnapshotter(const SnapshotterOptions& options);

// The environment variable that tells the runtime to become a template, and its value's prefix.
inline constexpr const char* kControlVariable = "HANEUL_SNAPSHOT_CONTROL";

}  // namespace haneul::snapshot::fork_server

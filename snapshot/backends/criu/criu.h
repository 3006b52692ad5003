// The criu snapshot backend: checkpoint an initialised environment with CRIU (4.1 or later) into
// an image directory, and restore every copy from it with `criu restore`. Works for runtimes the
// fork-server cannot fork (Node: V8 and libuv run threads).
//
// The template is not started by the invoker's sandbox but by this backend's own launcher
// (TemplateSandbox): `clone(CLONE_NEWPID)` so the runtime is PID 1 of a pid namespace of its own
// (a restored copy keeps its pids, so each copy needs a namespace of its own too), `setsid`, stdio
// on pipes, the host's mount and network namespaces (as the process sandbox), plus two pipes of
// the checkpoint protocol:
//   fd 3  resume pipe (read end): after its init the runtime blocks reading it; a copy reads its
//         configuration there (one JSON line: {"environment": ["NAME=value", ...]}).
//   fd 4  ready pipe (write end): the runtime writes one byte once it has announced itself
//         (GET /invocation/next), closed every Runtime API connection and is about to block.
// (HANEUL_SNAPSHOT_CHECKPOINT=3,4 tells the runtime; see runtimes/nodejs/bootstrap.mjs.)
// Capture then runs `criu dump --leave-running` into <snapshots>/<function>/<version>/criu/ and
// writes a manifest (sizes and SHA-256 of every image file, the inodes of the pipes to replace);
// Restore runs `criu restore --restore-detached --restore-sibling` with the copy's own stdout,
// stderr and resume pipes put in place of the template's (`--inherit-fd`), so the copy is a child
// of the server, and writes the copy's configuration (its Runtime API address, log stream, TMPDIR)
// on its resume pipe. Since a copy needs nothing of its environment until then, each template
// keeps one spare copy restored ahead of demand (on a thread of the snapshotter's own).
//
// Thread-safety: Snapshotter and Templates on the loop thread only, like every Snapshotter; the
// spare restores run on a background thread and meet the loop under a mutex. Every criu run is
// bounded by a timeout (killed after it), so a stuck criu never hangs an invocation.
#pragma once

#include <memory>
#include <string>

#include "haneul/snapshot/snapshotter.h"

namespace haneul::snapshot::criu {

Result<std::unique_ptr<Snapshotter>> MakeCriuSnapshotter(const SnapshotterOptions& options);

// The variable that tells the runtime its checkpoint descriptors ("3,4": resume, ready).
inline constexpr const char* kCheckpointVariable = "HANEUL_SNAPSHOT_CHECKPOINT";
// The variable naming the Node addon that reseeds OpenSSL's random generator in a copy.
inline constexpr const char* kReseedVariable = "HANEUL_SNAPSHOT_RESEED";

// The image directory's manifest: what Capture wrote, checked before every restore.
struct ImageManifest {
  unsigned long resume_inode = 0;  // the template's pipes, replaced in every copy
  unsigned long stdout_inode = 0;
  unsigned long stderr_inode = 0;
  struct File {
    std::string name;
    uint64_t size = 0;
    std::string sha256;
  };
  std::vector<File> files;
};
inline constexpr const char* kManifestName = "haneul-criu.manifest";
inline constexpr int kManifestFormatVersion = 1;
// Builds the manifest of the image files in directory (every regular file but logs and the
// manifest itself).
Result<ImageManifest> ScanImage(const std::string& directory);
std::string EncodeManifest(const ImageManifest& manifest);
Result<ImageManifest> DecodeManifest(std::string_view text);
// Checks directory against manifest: every file present, of its size and checksum. Corruption
// says which file is missing, truncated or altered.
Status VerifyImage(const std::string& directory, const ImageManifest& manifest);

}  // namespace haneul::snapshot::criu

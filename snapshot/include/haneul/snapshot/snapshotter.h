// Snapshot start: initialise a function's environment once (at PublishVersion), keep that
// initialised state as a *template*, and start every later environment of the version as a copy of
// it instead of from scratch (Lambda SnapStart).
//
// A Snapshotter backend turns a started, initialised worker into a Template; a Template restores
// copies, each a sandbox::Worker the invoker drives exactly like a freshly started one (its own
// stdout/stderr pipes, its own Runtime API listener, its own exit notification). Backends are
// picked by name from an explicit table (MakeSnapshotter): "fork-server" (the template process
// forks ready copies; single-threaded runtimes: our python runtime), "criu" (CRIU checkpoints the
// initialised runtime and restores copies from the image; any runtime, used for Node) and "auto"
// (both: ForRuntime picks criu for nodejs*, fork-server for the rest).
//
// Also here: the on-disk metadata of a snapshot (one small file per published version, with a
// magic, a format version and a checksum; loading refuses truncated, corrupt or foreign files).
//
// Thread-safety: a Snapshotter and its Templates are used from one thread (the invoker's loop).
// Failure: every call returns a Status; a failed Restore leaves nothing running, and the caller
// falls back to a cold start.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "haneul/common/status.h"
#include "haneul/sandbox/sandbox.h"

namespace haneul::snapshot {

// What one copy gets on top of the template's state.
struct CopySpec {
  std::string name;                      // unique environment id (cgroup name, /tmp folder)
  std::vector<std::string> environment;  // "NAME=value" set in the copy (log stream, ...)
  uint64_t memory_limit_bytes = 0;       // the copy's own memory limit (where cgroups exist)
  int memory_mb = 128;
  // The environment's own folder (criu: the copy's TMPDIR and HOME); empty: the template's.
  std::string scratch_directory;
  // How long the copy may take to announce itself before Restore gives up.
  std::chrono::milliseconds timeout{3000};
};

// An initialised environment kept to restore copies from. Destroying it ends the template (for
// fork-server: its process, and with it every copy it forked).
class Template {
 public:
  virtual ~Template() = default;
  Template() = default;
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

  // Starts one copy. The copy's runtime starts with GET /runtime/restore/next on the Runtime API
  // that the returned Worker's runtime_api_fd() listens on.
  virtual Result<std::unique_ptr<sandbox::Worker>> Restore(const CopySpec& spec) = 0;
  // False once the template is known to be gone (a Restore failed because of it).
  virtual bool alive() const = 0;
};

struct SnapshotterOptions {
  // Whether copies get cgroups of their own (the namespace sandbox's cgroup tree); false for the
  // process sandbox, whose workers have none.
  bool cgroups = false;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_subtree = "haneul";
  // Where backends that write images keep them: <snapshots_directory>/<function>/<version>/<backend>/
  // (criu). Empty: the template's scratch folder (gone with it).
  std::string snapshots_directory;
};

class Snapshotter {
 public:
  virtual ~Snapshotter() = default;
  Snapshotter() = default;
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  virtual std::string name() const = 0;
  // Adds to spec (before the sandbox starts it) what the runtime needs to become a template after
  // its init: environment variables naming the control channel.
  virtual void PrepareTemplate(sandbox::WorkerSpec* spec) = 0;
  // Takes over worker's runtime once it has finished init and announced itself (its first
  // GET /invocation/next) as a template. spec is the one PrepareTemplate prepared. The worker stays
  // owned by the caller: the template is only usable while it lives.
  virtual Result<std::unique_ptr<Template>> Capture(sandbox::Worker& worker,
                                                    const sandbox::WorkerSpec& spec) = 0;
  // The sandbox that must start this backend's templates, when the invoker's cannot give the
  // process the shape the backend needs (criu: PID 1 of a pid namespace of its own, in the host's
  // mounts); null: the invoker's sandbox starts them.
  virtual sandbox::Sandbox* template_sandbox() { return nullptr; }
  // The backend that snapshots functions of runtime (a name as in CreateFunction): this one,
  // except for "auto", which picks per runtime. Owned by this Snapshotter.
  virtual Snapshotter* ForRuntime(const std::string& runtime) {
    (void)runtime;
    return this;
  }
};

// The criu program: $HANEUL_CRIU when set (tests put a failing wrapper there), else the first of
// /usr/local/sbin/criu, /usr/sbin/criu, /usr/bin/criu that exists ("" when none does).
std::string CriuBinary();

// Whether the criu backend could run on this host: a `criu` (PATH, or /usr/local/sbin) of version
// 4.1 or later whose `criu check` passes. Unavailable says what is missing. Runs criu: call once
// at start-up, not on a request path.
Status ProbeCriu();

// The backends built into this binary, by name. "auto" makes fork-server plus criu when ProbeCriu
// passes (else nodejs functions fail their snapshot with criu's reason).
std::vector<std::string> SnapshotBackends();
Result<std::unique_ptr<Snapshotter>> MakeSnapshotter(const std::string& name,
                                                     const SnapshotterOptions& options = {});

// ---- metadata -----------------------------------------------------------------------------------

// One snapshot as recorded in the data directory, so a restarted server knows which versions had
// one (and rebuilds their templates) and which backend made it.
struct SnapshotMetadata {
  std::string function;     // function name
  std::string version;      // published version
  std::string backend;      // "fork-server" or "criu"
  std::string code_sha256;  // of the code the snapshot was initialised from
  uint64_t revision = 0;    // the version's configuration revision
  int64_t created_unix_ms = 0;
};

// The file format: "HNLSNAP\0" magic, u32 format version (kMetadataFormatVersion), u32 payload
// length, payload (JSON), SHA-256 of the payload as 64 hex characters; integers little-endian. Decoding refuses
// a wrong magic, another format version, a length over kMaxMetadataBytes or not matching the
// file, and a checksum mismatch, each with a Corruption status saying which.
inline constexpr uint32_t kMetadataFormatVersion = 1;
inline constexpr size_t kMaxMetadataBytes = 64 * 1024;
std::string EncodeMetadata(const SnapshotMetadata& metadata);
Result<SnapshotMetadata> DecodeMetadata(std::string_view bytes);
// Writes atomically (temporary file + rename) / reads and decodes one metadata file.
Status WriteMetadataFile(const std::string& path, const SnapshotMetadata& metadata);
Result<SnapshotMetadata> ReadMetadataFile(const std::string& path);

}  // namespace haneul::snapshot

// `haneul image ...`: a thin shell over haneul::images::ImageStore. The store lives in
// DATA/images (DATA = --data, default ~/.haneul, as for `haneul serve`). Progress goes to
// stderr: a redrawn line per blob on a terminal, one quiet line per finished blob otherwise.
// `image base` assembles a staging folder from the host's installed runtime (the binary, its
// shared libraries found with ldd, the python stdlib) laid out like AWS's base images, and
// builds it on scratch.
#include "image_commands.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "haneul/images/image_store.h"

namespace haneul::cli {

namespace {

namespace fs = std::filesystem;
using images::ImageStore;

struct ImageFlags {
  std::string data;
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> switches;
};

// Flags that take a value; everything else starting with "--" is a switch.
const std::set<std::string> kValueFlags = {"--data", "--creds", "--name", "--tag",  "--base",
                                           "--entrypoint", "--cmd", "--dest", "--env",
                                           "--workdir", "--insecure-registry"};

bool ParseFlags(int argc, char** argv, ImageFlags* flags, std::string* error) {
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      std::string value;
      bool has_value = false;
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_value = true;
      }
      if (kValueFlags.count(arg)) {
        if (!has_value) {
          if (i + 1 >= argc) {
            *error = arg + " needs a value";
            return false;
          }
          value = argv[++i];
        }
        flags->values[arg].push_back(value);
      } else {
        flags->switches.insert(arg);
      }
    } else {
      flags->positional.push_back(arg);
    }
  }
  auto data = flags->values.find("--data");
  if (data != flags->values.end()) {
    flags->data = data->second.back();
  } else {
    const char* home = std::getenv("HOME");
    flags->data = std::string(home ? home : ".") + "/.haneul";
  }
  return true;
}

std::string Value(const ImageFlags& flags, const std::string& name) {
  auto it = flags.values.find(name);
  return it == flags.values.end() ? "" : it->second.back();
}

// '["a","b"]' as JSON, else the words of the text.
std::vector<std::string> ParseList(const std::string& text) {
  auto value = nlohmann::json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (value.is_array()) {
    for (const auto& v : value) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
    return out;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = text.find_first_not_of(' ', pos);
    if (start == std::string::npos) break;
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    pos = end;
  }
  return out;
}

std::string HumanSize(int64_t bytes) {
  char buffer[32];
  if (bytes >= (1LL << 30)) {
    std::snprintf(buffer, sizeof(buffer), "%.1f GB", static_cast<double>(bytes) / (1 << 30));
  } else if (bytes >= (1 << 20)) {
    std::snprintf(buffer, sizeof(buffer), "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1f kB", static_cast<double>(bytes) / 1024);
  }
  return buffer;
}

Result<std::unique_ptr<ImageStore>> OpenStore(const ImageFlags& flags) {
  images::StoreOptions options;
  if (flags.switches.count("--insecure")) options.insecure_registries.push_back("*");
  auto insecure = flags.values.find("--insecure-registry");
  if (insecure != flags.values.end()) {
    for (const auto& r : insecure->second) options.insecure_registries.push_back(r);
  }
  std::string creds = Value(flags, "--creds");
  if (creds.empty() && std::getenv("HANEUL_REGISTRY_CREDS")) creds = std::getenv("HANEUL_REGISTRY_CREDS");
  if (!creds.empty()) {
    size_t colon = creds.find(':');
    if (colon == std::string::npos) return Status::InvalidArgument("--creds wants USER:PASSWORD");
    // Applied to whichever registry the command talks to.
    for (const auto& p : flags.positional) {
      auto ref = images::ParseRegistryReference(p);
      if (ref.ok()) {
        options.credentials[ref->registry] = {creds.substr(0, colon), creds.substr(colon + 1)};
      }
    }
  }
  bool quiet = flags.switches.count("--quiet") > 0;
  if (!quiet) {
    bool tty = ::isatty(STDERR_FILENO);
    auto mutex = std::make_shared<std::mutex>();
    options.progress = [tty, mutex](const std::string& what, int64_t done, int64_t total) {
      std::lock_guard<std::mutex> lock(*mutex);
      if (tty) {
        int width = 30;
        int filled = total > 0 ? static_cast<int>(width * done / total) : width;
        std::fprintf(stderr, "\r%s [%s%s] %s / %s%s", what.c_str(), std::string(filled, '#').c_str(),
                     std::string(width - filled, ' ').c_str(), HumanSize(done).c_str(),
                     HumanSize(total).c_str(), done >= total ? "\n" : "");
      } else if (done >= total) {
        std::fprintf(stderr, "%s: done (%s)\n", what.c_str(), HumanSize(total).c_str());
      }
    };
  }
  return ImageStore::Open(flags.data + "/images", std::move(options));
}

int Fail(const Status& status) {
  std::fprintf(stderr, "haneul image: %s\n", status.message().c_str());
  return 1;
}

void Usage() {
  std::fprintf(stderr,
               "usage: haneul image <command> [--data DIR] ...\n"
               "  ls [--digests]\n"
               "  pull REF [--insecure] [--creds USER:PASS] [--quiet]\n"
               "  push NAME [DEST-REF] [--insecure] [--creds USER:PASS]\n"
               "  import oci:PATH[:TAG]|oci-archive:PATH|docker-archive:PATH [--name NAME]\n"
               "  export NAME DIR [--tag TAG]\n"
               "  rm NAME...          (then collects unreferenced blobs)\n"
               "  gc\n"
               "  inspect NAME\n"
               "  build DIR --base REF|scratch --tag NAME [--entrypoint JSON|WORDS] [--cmd JSON|WORDS]\n"
               "        [--dest PATH] [--env K=V]... [--workdir PATH]\n"
               "  base python3|nodejs|provided --tag NAME\n");
}

// --- image base --------------------------------------------------------------------------

// Copies a host path into the staging root at the same place, re-creating every symlink met
// on the way (so /lib64/ld-linux-x86-64.so.2 keeps working in a merged-/usr layout).
class Stager {
 public:
  explicit Stager(std::string root) : root_(std::move(root)) {}

  Status Add(const std::string& host_path, const std::set<std::string>& skip_dirs = {}) {
    if (done_.count(host_path) || depth_ > 40) return Status::Ok();
    done_.insert(host_path);
    ++depth_;
    Status s = AddInner(host_path, skip_dirs);
    --depth_;
    return s;
  }

  // The shared libraries a binary needs, by ldd.
  Status AddLibraries(const std::string& binary) {
    std::string command = "ldd '" + binary + "' 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return Status::FromErrno("ldd");
    char line[4096];
    std::vector<std::string> libs;
    while (std::fgets(line, sizeof(line), pipe)) {
      std::string text = line;
      size_t arrow = text.find("=> ");
      size_t start = arrow != std::string::npos ? arrow + 3 : text.find('/');
      if (start == std::string::npos || start >= text.size() || text[start] != '/') continue;
      size_t end = text.find(' ', start);
      libs.push_back(text.substr(start, end - start));
    }
    ::pclose(pipe);
    for (const auto& lib : libs) HANEUL_RETURN_IF_ERROR(Add(lib));
    return Status::Ok();
  }

 private:
  Status AddInner(const std::string& host_path, const std::set<std::string>& skip_dirs) {
    fs::path path(host_path);
    // Parents first, mirroring symlinked ones.
    fs::path prefix = "/";
    for (auto it = path.begin(); it != path.end(); ++it) {
      if (*it == "/") continue;
      fs::path next = prefix / *it;
      if (std::next(it) == path.end()) break;
      std::error_code ec;
      if (fs::is_symlink(next, ec)) {
        // Mirror the symlinked parent itself (not the whole directory it points to).
        if (!fs::exists(fs::symlink_status(root_ + next.string(), ec))) {
          fs::create_directories(root_ + prefix.string(), ec);
          fs::create_symlink(fs::read_symlink(next, ec), root_ + next.string(), ec);
        }
        // Continue below the symlink's target.
        fs::path rest;
        for (auto r = std::next(it); r != path.end(); ++r) rest /= *r;
        return Add((fs::canonical(next, ec) / rest).string(), skip_dirs);
      }
      fs::create_directories(root_ + next.string(), ec);
      prefix = next;
    }
    std::error_code ec;
    auto status = fs::symlink_status(path, ec);
    if (ec) return Status::NotFound("host path " + host_path + " is missing");
    std::string target = root_ + host_path;
    if (fs::is_symlink(status)) {
      fs::path link = fs::read_symlink(path, ec);
      if (!fs::exists(fs::symlink_status(target, ec))) fs::create_symlink(link, target, ec);
      fs::path resolved = (link.is_absolute() ? link : path.parent_path() / link).lexically_normal();
      // A dangling symlink on the host stays dangling in the image.
      if (!fs::exists(fs::symlink_status(resolved, ec))) return Status::Ok();
      return Add(resolved.string(), skip_dirs);
    }
    if (fs::is_directory(status)) {
      fs::create_directories(target, ec);
      for (const auto& e : fs::directory_iterator(path, ec)) {
        if (skip_dirs.count(e.path().filename().string())) continue;
        HANEUL_RETURN_IF_ERROR(Add(e.path().string(), skip_dirs));
      }
      return Status::Ok();
    }
    if (fs::is_regular_file(status)) {
      fs::copy_file(path, target, fs::copy_options::overwrite_existing, ec);
      if (ec) return Status::IoError("copy " + host_path + ": " + ec.message());
      fs::permissions(target, fs::status(path).permissions(), ec);
    }
    return Status::Ok();
  }

  std::string root_;
  std::set<std::string> done_;
  int depth_ = 0;
};

Status WriteText(const std::string& path, const std::string& text, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) return Status::IoError("write " + path);
  out.close();
  fs::permissions(path, perms, ec);
  return Status::Ok();
}

// AWS's /lambda-entrypoint.sh: the handler is the one argument; the runtime interface
// emulator is used when AWS_LAMBDA_RUNTIME_API is unset (it is not bundled here).
constexpr char kEntrypoint[] = R"(#!/bin/sh
# Copyright-free re-creation of the entrypoint of AWS's Lambda base images.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  if [ -x /usr/local/bin/aws-lambda-rie ]; then
    exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
  fi
  echo "AWS_LAMBDA_RUNTIME_API is not set and no runtime interface emulator is installed" 1>&2
  exit 142
else
  exec $RUNTIME_ENTRYPOINT
fi
)";

std::string HostCommand(const std::string& name) {
  std::string command = "command -v " + name + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return "";
  char line[4096] = {};
  std::string out = std::fgets(line, sizeof(line), pipe) ? line : "";
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

int Base(const ImageFlags& flags) {
  if (flags.positional.size() != 1) {
    Usage();
    return 2;
  }
  std::string runtime = flags.positional[0];
  std::string tag = Value(flags, "--tag");
  if (tag.empty()) tag = "haneul/" + runtime + ":latest";
  char pattern[] = "/tmp/haneul-image-base-XXXXXX";
  if (!::mkdtemp(pattern)) return Fail(Status::FromErrno("mkdtemp"));
  std::string staging = pattern;
  Stager stager(staging);
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove_all(staging, ec);
  };
  Status status;
  images::BuildOptions build;
  build.context_directory = staging;
  build.base = "scratch";
  build.tag = tag;
  build.destination = "/";
  build.entrypoint = std::vector<std::string>{"/lambda-entrypoint.sh"};
  build.working_dir = "/var/task";
  build.env = {"LANG=en_US.UTF-8",
               "TZ=:/etc/localtime",
               "PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
               "LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
               "LAMBDA_TASK_ROOT=/var/task",
               "LAMBDA_RUNTIME_DIR=/var/runtime"};
  // The shell the entrypoint runs under, and the C library essentials every runtime needs.
  std::string shell = fs::exists("/bin/dash") ? "/bin/dash" : "/bin/sh";
  status = stager.Add(shell);
  if (status.ok()) status = stager.AddLibraries(shell);
  std::error_code ec;
  if (status.ok() && shell != "/bin/sh") {
    fs::create_directories(staging + "/usr/bin", ec);
    fs::create_symlink("dash", staging + "/usr/bin/sh", ec);
  }
  std::string bootstrap;
  if (status.ok() && runtime == "python3") {
    std::string python = fs::canonical("/usr/bin/python3", ec).string();
    if (ec) status = Status::NotFound("/usr/bin/python3 is not installed");
    if (status.ok()) status = stager.Add("/usr/bin/python3");
    if (status.ok()) status = stager.AddLibraries(python);
    std::string version = fs::path(python).filename().string();  // python3.11
    if (status.ok()) {
      status = stager.Add("/usr/lib/" + version,
                          {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "dist-packages",
                           "site-packages", "lib2to3", "pydoc_data"});
    }
    if (status.ok()) {
      for (const auto& e : fs::directory_iterator("/usr/lib/" + version + "/lib-dynload", ec)) {
        status = stager.AddLibraries(e.path().string());
        if (!status.ok()) break;
      }
    }
    if (status.ok()) {
      fs::create_directories(staging + "/var/runtime", ec);
      fs::copy_file(std::string(HANEUL_RUNTIMES_DIR) + "/python3/bootstrap.py",
                    staging + "/var/runtime/bootstrap.py", fs::copy_options::overwrite_existing, ec);
      if (ec) status = Status::IoError("copy the python3 bootstrap: " + ec.message());
    }
    bootstrap = "#!/bin/sh\nexec /usr/bin/python3 /var/runtime/bootstrap.py \"$@\"\n";
    build.env.push_back("AWS_EXECUTION_ENV=AWS_Lambda_" + version);
  } else if (status.ok() && runtime == "nodejs") {
    std::string node = HostCommand("node");
    if (node.empty()) status = Status::NotFound("node is not installed");
    std::string real = status.ok() ? fs::canonical(node, ec).string() : "";
    if (status.ok()) status = stager.Add(node);
    if (status.ok()) status = stager.AddLibraries(real);
    if (status.ok() && node != "/usr/bin/node") {
      fs::create_directories(staging + "/usr/bin", ec);
      fs::create_symlink(real, staging + "/usr/bin/node", ec);
    }
    if (status.ok()) {
      fs::create_directories(staging + "/var/runtime", ec);
      fs::copy_file(std::string(HANEUL_RUNTIMES_DIR) + "/nodejs/bootstrap.mjs",
                    staging + "/var/runtime/bootstrap.mjs", fs::copy_options::overwrite_existing, ec);
      if (ec) status = Status::IoError("copy the nodejs bootstrap: " + ec.message());
    }
    bootstrap = "#!/bin/sh\nexec /usr/bin/node /var/runtime/bootstrap.mjs \"$@\"\n";
    build.env.push_back("NODE_PATH=/opt/nodejs/node_modules:/var/runtime/node_modules:/var/task/node_modules");
  } else if (status.ok() && runtime == "provided") {
    // libc essentials beyond what the shell pulled in: the C++ runtime and libgcc.
    for (const char* lib : {"libstdc++.so.6", "libgcc_s.so.1", "libm.so.6", "libpthread.so.0",
                            "libdl.so.2", "librt.so.1"}) {
      for (const char* dir : {"/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/",
                              "/lib/aarch64-linux-gnu/", "/usr/lib/aarch64-linux-gnu/"}) {
        if (fs::exists(std::string(dir) + lib, ec)) {
          status = stager.Add(std::string(dir) + lib);
          break;
        }
      }
      if (!status.ok()) break;
    }
    // Like provided.al2: the bootstrap is the function's own, in /var/task or /var/runtime.
    bootstrap = "#!/bin/sh\nif [ -x /var/runtime/bootstrap.function ]; then exec /var/runtime/bootstrap.function \"$@\"; fi\nexec /var/task/bootstrap \"$@\"\n";
  } else if (status.ok()) {
    cleanup();
    std::fprintf(stderr, "haneul image base: unknown runtime '%s' (python3, nodejs, provided)\n",
                 runtime.c_str());
    return 2;
  }
  if (status.ok()) status = WriteText(staging + "/var/runtime/bootstrap", bootstrap, static_cast<fs::perms>(0755));
  if (status.ok()) status = WriteText(staging + "/lambda-entrypoint.sh", kEntrypoint, static_cast<fs::perms>(0755));
  if (status.ok()) {
    fs::create_directories(staging + "/var/task", ec);
    fs::create_directories(staging + "/opt", ec);
    fs::create_directories(staging + "/tmp", ec);
    fs::permissions(staging + "/tmp", static_cast<fs::perms>(01777), ec);
    status = WriteText(staging + "/etc/passwd",
                       "root:x:0:0:root:/root:/bin/sh\nsbx_user1051:x:993:990::/home/sbx_user1051:/sbin/nologin\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                       static_cast<fs::perms>(0644));
  }
  if (status.ok()) {
    status = WriteText(staging + "/etc/group", "root:x:0:\nnobody:x:65534:\n", static_cast<fs::perms>(0644));
  }
  if (!status.ok()) {
    cleanup();
    return Fail(status);
  }
  auto store = OpenStore(flags);
  if (!store.ok()) {
    cleanup();
    return Fail(store.status());
  }
  auto summary = (*store)->Build(build);
  cleanup();
  if (!summary.ok()) return Fail(summary.status());
  std::printf("%s %s %s\n", summary->name.c_str(), summary->digest.c_str(), HumanSize(summary->size).c_str());
  return 0;
}

}  // namespace

int Image(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  std::string command = argv[1];
  ImageFlags flags;
  std::string error;
  if (!ParseFlags(argc, argv, &flags, &error)) {
    std::fprintf(stderr, "haneul image: %s\n", error.c_str());
    return 2;
  }
  if (command == "base") return Base(flags);
  if (command != "ls" && command != "pull" && command != "push" && command != "import" &&
      command != "export" && command != "rm" && command != "gc" && command != "build" &&
      command != "inspect") {
    Usage();
    return 2;
  }
  auto store_or = OpenStore(flags);
  if (!store_or.ok()) return Fail(store_or.status());
  ImageStore& store = **store_or;
  const auto& pos = flags.positional;

  if (command == "ls") {
    bool digests = flags.switches.count("--digests") > 0;
    std::printf("%-50s %-20s %10s %s\n", "NAME", "DIGEST", "SIZE", "UNPACKED");
    for (const auto& image : store.List()) {
      std::string digest = digests ? image.digest : image.digest.substr(7, 12);
      std::printf("%-50s %-20s %10s %s\n", image.name.c_str(), digest.c_str(),
                  HumanSize(image.size).c_str(), image.unpacked ? "yes" : "no");
    }
    return 0;
  }
  if (command == "pull") {
    if (pos.size() != 1) return Usage(), 2;
    auto summary = store.Pull(pos[0]);
    if (!summary.ok()) return Fail(summary.status());
    std::printf("%s %s\n", summary->name.c_str(), summary->digest.c_str());
    return 0;
  }
  if (command == "push") {
    if (pos.empty() || pos.size() > 2) return Usage(), 2;
    std::string destination = pos.size() == 2 ? pos[1] : pos[0];
    Status s = store.Push(pos[0], destination);
    if (!s.ok()) return Fail(s);
    std::printf("pushed %s\n", destination.c_str());
    return 0;
  }
  if (command == "import") {
    if (pos.size() != 1) return Usage(), 2;
    auto summary = store.Import(pos[0], Value(flags, "--name"));
    if (!summary.ok()) return Fail(summary.status());
    std::printf("%s %s\n", summary->name.c_str(), summary->digest.c_str());
    return 0;
  }
  if (command == "export") {
    if (pos.size() != 2) return Usage(), 2;
    Status s = store.Export(pos[0], pos[1], Value(flags, "--tag"));
    if (!s.ok()) return Fail(s);
    return 0;
  }
  if (command == "rm") {
    if (pos.empty()) return Usage(), 2;
    for (const auto& name : pos) {
      Status s = store.Remove(name);
      if (!s.ok()) return Fail(s);
      std::printf("removed %s\n", name.c_str());
    }
    auto freed = store.GarbageCollect();
    if (!freed.ok()) return Fail(freed.status());
    std::printf("freed %s\n", HumanSize(*freed).c_str());
    return 0;
  }
  if (command == "gc") {
    auto freed = store.GarbageCollect();
    if (!freed.ok()) return Fail(freed.status());
    std::printf("freed %s\n", HumanSize(*freed).c_str());
    return 0;
  }
  if (command == "inspect") {
    if (pos.size() != 1) return Usage(), 2;
    auto summary = store.Inspect(pos[0]);
    if (!summary.ok()) return Fail(summary.status());
    auto config = store.Config(pos[0]);
    if (!config.ok()) return Fail(config.status());
    nlohmann::json out = {{"Name", summary->name},
                          {"Digest", summary->digest},
                          {"Size", summary->size},
                          {"Entrypoint", config->entrypoint},
                          {"Cmd", config->cmd},
                          {"Env", config->env},
                          {"WorkingDir", config->working_dir},
                          {"User", config->user}};
    if (flags.switches.count("--rootfs")) {
      auto resolved = store.Resolve(pos[0]);
      if (!resolved.ok()) return Fail(resolved.status());
      out["Rootfs"] = resolved->rootfs;
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  // build
  if (pos.size() != 1) return Usage(), 2;
  images::BuildOptions build;
  build.context_directory = pos[0];
  build.base = Value(flags, "--base");
  if (build.base.empty()) {
    std::fprintf(stderr, "haneul image build: --base REF|scratch is required\n");
    return 2;
  }
  build.tag = Value(flags, "--tag");
  if (build.tag.empty()) {
    std::fprintf(stderr, "haneul image build: --tag NAME is required\n");
    return 2;
  }
  build.destination = Value(flags, "--dest");
  if (flags.values.count("--entrypoint")) build.entrypoint = ParseList(Value(flags, "--entrypoint"));
  if (flags.values.count("--cmd")) build.cmd = ParseList(Value(flags, "--cmd"));
  if (flags.values.count("--workdir")) build.working_dir = Value(flags, "--workdir");
  if (flags.values.count("--env")) build.env = flags.values.at("--env");
  auto summary = store.Build(build);
  if (!summary.ok()) return Fail(summary.status());
  std::printf("%s %s\n", summary->name.c_str(), summary->digest.c_str());
  return 0;
}

}  // namespace haneul::cli

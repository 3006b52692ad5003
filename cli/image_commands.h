// `haneul image ...`: the image store's commands (ls, pull, push, import, export, rm, gc,
// build, base, inspect). Single-threaded apart from the store's own download threads.
#pragma once

namespace haneul::cli {

// argv[0] is "image"; argv[1] the sub-command. Returns the process exit code.
int Image(int argc, char** argv);

}  // namespace haneul::cli

// The haneul sub-commands. main() only dispatches; each command is a function over the libraries.
#pragma once

namespace haneul::cli {

// argv[0] is the sub-command name ("serve", "invoke", ...). Each returns the process exit code.
int Serve(int argc, char** argv);
int Invoke(int argc, char** argv);
int Deploy(int argc, char** argv);
int Logs(int argc, char** argv);
int Image(int argc, char** argv);  // image_commands.cc
int Dlq(int argc, char** argv);

}  // namespace haneul::cli


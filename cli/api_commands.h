// `haneul api ...` (api_commands.cc): the gateway's HTTP APIs from the command line, over the
// apigatewayv2 management API of a running server.
#pragma once

namespace haneul::cli {

// argv[0] is "api"; returns the process exit code.
int Api(int argc, char** argv);

}  // namespace haneul::cli

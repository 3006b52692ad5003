// haneul: a thin shell over the libraries. Picks the sub-command and hands over.
#include <cstdio>
#include <cstring>

#include "api_commands.h"  // haneul api
#include "client_commands.h"  // haneul dlq
#include "commands.h"
#include "schedule_commands.h"  // haneul schedules

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: haneul <command> [options]\n"
               "  serve   [--port 4747] [--host 127.0.0.1] [--data DIR] [--example]\n"
               "  invoke  NAME [--payload JSON] [--endpoint URL]\n"
               "  deploy  DIR --runtime python3 --handler app.handler [--name NAME]\n"
               "  logs    NAME [--follow]\n"
               "  image   ls|pull|push|import|export|rm|gc|inspect|build|base ... (haneul image for help)\n"
               "  dlq     list | read NAME [--endpoint URL]\n"
               "  schedules list | put NAME --schedule EXPR --function FN | delete NAME\n"
               "  api     list | create NAME --target FN | import FILE | export ID | delete ID\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  const char* command = argv[1];
  if (std::strcmp(command, "serve") == 0) return haneul::cli::Serve(argc - 1, argv + 1);
  if (std::strcmp(command, "invoke") == 0) return haneul::cli::Invoke(argc - 1, argv + 1);
  if (std::strcmp(command, "deploy") == 0) return haneul::cli::Deploy(argc - 1, argv + 1);
  if (std::strcmp(command, "logs") == 0) return haneul::cli::Logs(argc - 1, argv + 1);
  if (std::strcmp(command, "image") == 0) return haneul::cli::Image(argc - 1, argv + 1);
  if (std::strcmp(command, "dlq") == 0) return haneul::cli::Dlq(argc - 1, argv + 1);
  if (std::strcmp(command, "schedules") == 0) return haneul::cli::Schedules(argc - 1, argv + 1);
  if (std::strcmp(command, "api") == 0) return haneul::cli::Api(argc - 1, argv + 1);
  Usage();
  return 2;
}

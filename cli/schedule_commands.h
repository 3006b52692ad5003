// `haneul schedules ...` (schedule_commands.cc): scheduled rules from the command line.
#pragma once

namespace haneul::cli {

// argv[0] is "schedules"; returns the process exit code.
int Schedules(int argc, char** argv);

}  // namespace haneul::cli

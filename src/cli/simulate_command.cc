// engram simulate. (Being written.)
#include "cli/commands.h"

namespace engram::cli {

void RegisterSimulate(CLI::App& app, int* exit_code) {
  (void)app;
  (void)exit_code;
}

}  // namespace engram::cli

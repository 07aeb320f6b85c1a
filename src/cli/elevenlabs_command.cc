// engram elevenlabs config | push. (Being written.)
#include "cli/commands.h"

namespace engram::cli {

void RegisterElevenLabs(CLI::App& app, int* exit_code) {
  (void)app;
  (void)exit_code;
}

}  // namespace engram::cli

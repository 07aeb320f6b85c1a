// engram: the server and its tools, one binary with subcommands.
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/private_files.h"
#include "http/signature.h"

namespace engram::cli {

std::string LogDir(const std::string& data_dir) { return data_dir + "/log"; }
std::string ReadModelPath(const std::string& data_dir) { return data_dir + "/engram.db"; }

bool MakeDataDirPrivateOrSay(const std::string& data_dir) {
  auto changed = MakeDataDirPrivate(data_dir);
  if (!changed.ok()) {
    spdlog::critical("data dir {}: {}", data_dir, changed.status().message());
    return false;
  }
  if (*changed > 0) {
    spdlog::warn(
        "data dir {}: {} files or folders were readable by others; now owner-only "
        "(group and other bits removed)",
        data_dir, *changed);
  }
  return true;
}

void RegisterSign(CLI::App& app, int* exit_code) {
  auto* cmd =
      app.add_subcommand("sign",
                         "Print the ElevenLabs-Signature header value for a file, signed now with "
                         "ENGRAM_WEBHOOK_SECRET (for trying the post-call route by hand)");
  auto file = std::make_shared<std::string>();
  cmd->add_option("FILE", *file, "the exact body to sign")->required()->check(CLI::ExistingFile);
  cmd->callback([file, exit_code] {
    const char* secret = std::getenv("ENGRAM_WEBHOOK_SECRET");
    if (!secret || !*secret) {
      std::cerr << "engram sign: ENGRAM_WEBHOOK_SECRET is not set\n";
      *exit_code = 2;
      return;
    }
    std::ifstream in(*file, std::ios::binary);
    std::stringstream body;
    body << in.rdbuf();
    int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    std::cout << http::SignatureHeaderValue(secret, now, body.str()) << "\n";
    *exit_code = 0;
  });
}

}  // namespace engram::cli

int main(int argc, char** argv) {
  // Before anything makes a file: the data folder holds callers' words
  // (common/private_files.h).
  engram::UsePrivateUmask();
  CLI::App app{"Engram: long-term memory for ElevenLabs voice agents"};
  app.require_subcommand(1);
  int exit_code = 0;
  engram::cli::RegisterServe(app, &exit_code);
  engram::cli::RegisterReplay(app, &exit_code);
  engram::cli::RegisterSign(app, &exit_code);
  engram::cli::RegisterStats(app, &exit_code);
  engram::cli::RegisterDeadLetters(app, &exit_code);
  engram::cli::RegisterElevenLabs(app, &exit_code);
  engram::cli::RegisterSimulate(app, &exit_code);
  engram::cli::RegisterAudit(app, &exit_code);
  engram::cli::RegisterForget(app, &exit_code);
  engram::cli::RegisterKeys(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}

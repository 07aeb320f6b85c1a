// Subcommands of the `engram` binary. Each Register* adds one subcommand to
// the CLI11 app; the callback runs it and sets the process exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace engram::cli {

void RegisterServe(CLI::App& app, int* exit_code);
void RegisterReplay(CLI::App& app, int* exit_code);
void RegisterSign(CLI::App& app, int* exit_code);
void RegisterStats(CLI::App& app, int* exit_code);
void RegisterDeadLetters(CLI::App& app, int* exit_code);
void RegisterElevenLabs(CLI::App& app, int* exit_code);
void RegisterSimulate(CLI::App& app, int* exit_code);
void RegisterAudit(CLI::App& app, int* exit_code);
void RegisterForget(CLI::App& app, int* exit_code);
void RegisterKeys(CLI::App& app, int* exit_code);

// Where `engram serve --data-dir DIR` keeps things.
std::string LogDir(const std::string& data_dir);
std::string ReadModelPath(const std::string& data_dir);
// Makes `data_dir` private (common/private_files.h), with one warning line
// when it narrowed modes an older version or a copy left wider; false, with
// the reason logged, when it cannot.
bool MakeDataDirPrivateOrSay(const std::string& data_dir);

}  // namespace engram::cli

// engram-generalisation: measures Engram's caller memory on the held-out
// generalisation set (tests/fixtures/generalisation/: 14 callers in 14
// trades, two calls each, questions with the words an answer must hold).
//
// Each fixture runs from an empty data folder through the real routes of a
// child `engram serve` with the embedded defaults (rules extractor, GloVe
// from build/models, no LLM, no network); see generalisation/evaluate.h for
// the order of requests and generalisation/fixture.h for the scoring rules
// (those of the fixtures' README).
//
// This set is held out: it measures, it is not a target to tune rules,
// weights, prompts or thresholds against. Tune on other data, then run this
// once to confirm.
//
// Exit status: 0 when every fixture ran (whatever the scores), 1 when a
// request failed or a projection failed or timed out, 2 on bad arguments.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "generalisation/evaluate.h"
#include "generalisation/report.h"

namespace {

// The folder of this executable: `engram` and models/ are built beside it.
std::string ExeDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace engram::generalisation;
  CLI::App app{"Measure Engram's memory on the held-out generalisation fixtures"};
  EvalOptions options;
  options.engram_binary = ExeDir() + "/engram";
  std::vector<std::string> inputs = {"tests/fixtures/generalisation"};
  bool json_output = false, verbose = false;
  int settle_secs = 60;
  app.add_option("fixtures", inputs, "Fixture files or folders of *.json fixtures")
      ->capture_default_str();
  app.add_option("--k", options.k, "The memory tool's limit, and hit@k's k")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  app.add_option("--engram", options.engram_binary, "The engram binary to measure")
      ->capture_default_str();
  app.add_option("--embeddings", options.embeddings,
                 "GloVe file (default: models/glove-100d.bin beside the engram binary)");
  app.add_option("--embedder", options.embedder, "engram serve --embedder: glove or use")
      ->check(CLI::IsMember({"glove", "use"}));
  app.add_option("--work-dir", options.work_dir,
                 "Keep the data folders and server logs here (default: a temporary folder)");
  app.add_option("--settle-secs", settle_secs, "How long to wait for each projection")
      ->capture_default_str();
  app.add_flag("--json", json_output, "One JSON document instead of the table");
  app.add_flag("--verbose", verbose, "Also every question with the memories returned");
  CLI11_PARSE(app, argc, argv);
  options.settle_timeout = std::chrono::seconds(settle_secs);
  if (options.embeddings.empty()) {
    options.embeddings =
        (std::filesystem::path(options.engram_binary).parent_path() / "models/glove-100d.bin")
            .string();
  }
  for (const std::string& path : {options.engram_binary, options.embeddings}) {
    if (!std::filesystem::is_regular_file(path)) {
      std::cerr << "engram-generalisation: " << path
                << " not found (build first: tools/build.sh)\n";
      return 2;
    }
  }
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    if (std::filesystem::is_directory(input)) {
      auto listed = FixtureFiles(input);
      if (!listed.ok()) {
        std::cerr << "engram-generalisation: " << listed.status().ToString() << "\n";
        return 2;
      }
      files.insert(files.end(), listed->begin(), listed->end());
    } else if (std::filesystem::is_regular_file(input)) {
      files.push_back(input);
    } else {
      std::cerr << "engram-generalisation: " << input << " is neither a file nor a folder\n";
      return 2;
    }
  }
  const std::vector<FixtureResult> results = EvaluateAll(files, options);
  if (json_output) {
    std::cout << JsonReport(results, options).dump(2) << "\n";
  } else {
    if (verbose) std::cout << VerboseReport(results) << "\n";
    std::cout << TextReport(results, options);
  }
  for (const FixtureResult& r : results) {
    if (!r.errors.empty()) return 1;
  }
  return 0;
}

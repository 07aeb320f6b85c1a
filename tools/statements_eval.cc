// engram-statements: one caller, many one-statement calls
// (tests/fixtures/statements/statements.json: 1,000 short support statements
// of many shapes, each with a paraphrase an agent would ask). Each statement
// is its own signed post-call to a child `engram serve` with the embedded
// defaults; then every paraphrase is asked of the memory tool. Reports how
// often the statement's own memory comes back in the top k and first, how
// many statements were left without a current memory, how many memories were
// superseded by another statement's (every statement is about a different
// thing, so each such supersession is wrong), and the tool's latency. See
// statements/evaluate.h for the order of requests.
//
// Exit status: 0 when everything ran (whatever the figures), 1 when a request
// failed or a projection failed or timed out, 2 on bad arguments.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "statements/evaluate.h"
#include "statements/report.h"

namespace {

// The folder of this executable: `engram` and models/ are built beside it.
std::string ExeDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace engram::statements;
  CLI::App app{"Measure recall and supersession over many one-statement calls of one caller"};
  EvalOptions options;
  options.engram_binary = ExeDir() + "/engram";
  std::string path = "tests/fixtures/statements/statements.json";
  bool json_output = false, misses = false;
  int settle_secs = 60;
  app.add_option("statements", path, "The statements file")->capture_default_str();
  app.add_option("--k", options.k, "The memory tool's limit (found in top k)")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  app.add_option("--count", options.count, "Only the first N statements (0: all)")
      ->capture_default_str();
  app.add_option("--engram", options.engram_binary, "The engram binary to measure")
      ->capture_default_str();
  app.add_option("--embeddings", options.embeddings,
                 "GloVe file (default: models/glove-100d.bin beside the engram binary)");
  app.add_option("--embedder", options.embedder, "engram serve --embedder: glove or use")
      ->check(CLI::IsMember({"glove", "use"}));
  app.add_option("--serve-arg", options.serve_args,
                 "One more engram serve argument (repeat it), e.g. --serve-arg=--lexical-weight "
                 "--serve-arg=0.5");
  app.add_option("--work-dir", options.work_dir,
                 "Keep the data folder and server log here (default: a temporary folder)");
  app.add_option("--settle-secs", settle_secs, "How long to wait for each projection")
      ->capture_default_str();
  app.add_flag("--json", json_output, "One JSON document (with per-statement figures)");
  app.add_flag("--misses", misses, "Also list every miss and every wrong supersession");
  CLI11_PARSE(app, argc, argv);
  options.settle_timeout = std::chrono::seconds(settle_secs);
  if (options.embeddings.empty()) {
    options.embeddings =
        (std::filesystem::path(options.engram_binary).parent_path() / "models/glove-100d.bin")
            .string();
  }
  for (const std::string& file : {options.engram_binary, options.embeddings}) {
    if (!std::filesystem::is_regular_file(file)) {
      std::cerr << "engram-statements: " << file << " not found (build first: tools/build.sh)\n";
      return 2;
    }
  }
  auto set = LoadStatementSet(path);
  if (!set.ok()) {
    std::cerr << "engram-statements: " << set.status().ToString() << "\n";
    return 2;
  }
  const EvalResult result = Evaluate(*set, options);
  if (json_output) {
    std::cout << JsonReport(result, options).dump(2) << "\n";
  } else {
    if (misses) std::cout << MissesReport(result, *set) << "\n";
    std::cout << TextReport(result, options);
  }
  return result.errors.empty() ? 0 : 1;
}

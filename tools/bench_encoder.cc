// engram-bench-encoder: how long the sentence encoder (Universal Sentence
// Encoder lite, src/memory/sentence_encoder.h) takes for one query sentence
// (the memory tool's path) and for a batch of 20 call sentences (learning's
// path). Prints median and p95 in microseconds over --rounds runs of each.
//   build/engram-bench-encoder [--model build/models/use-lite.bin] [--rounds 1000] [--eigen]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "memory/sentence_encoder.h"

namespace {

struct Timing {
  double p50_us, p95_us;
  double cpu_p50_us;  // this thread's CPU time: what a quiet core would take
};

double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

template <typename F>
Timing Measure(int rounds, F&& run) {
  std::vector<double> us, cpu;
  us.reserve(static_cast<size_t>(rounds));
  for (int i = 0; i < rounds; ++i) {
    const double c0 = ThreadCpuMicros();
    const auto t0 = std::chrono::steady_clock::now();
    run();
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(ThreadCpuMicros() - c0);
  }
  std::sort(us.begin(), us.end());
  std::sort(cpu.begin(), cpu.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 95 / 100)],
          cpu[cpu.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the sentence encoder"};
  std::error_code ec;
  const auto exe_dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  std::string model = (exe_dir / "models" / "use-lite.bin").string();
  int rounds = 1000;
  bool eigen = false;
  app.add_option("--model", model, "use-lite.bin")->capture_default_str();
  app.add_option("--rounds", rounds, "Runs of each measurement")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--eigen", eigen, "Eigen's products even where AVX2+FMA kernels would run");
  CLI11_PARSE(app, argc, argv);
  using engram::memory::SentenceEncoder;
  auto encoder = SentenceEncoder::Open(
      model, eigen ? SentenceEncoder::Kernels::kEigen : SentenceEncoder::Kernels::kBest);
  if (!encoder.ok()) {
    std::cerr << "engram-bench-encoder: " << encoder.status().ToString() << "\n";
    return 2;
  }
  const std::string query = "Which dental insurance does the caller have now?";
  const std::vector<std::string> call = {
      "Hi Robin, it's Marcus Oyelaran again.",
      "I'm calling about my cleaning appointment next Friday.",
      "Can we move it to the afternoon, around three?",
      "Yes, Delta Dental PPO through my school district.",
      "Actually my insurance is now Cigna Dental, not Delta anymore.",
      "Please make sure the notes still say I'm allergic to penicillin.",
      "My daughter will drive me, she has the car on Thursdays.",
      "The best number is the mobile, ending in four two one nine.",
      "I'd rather get a text message than a call.",
      "Last time the hygienist said I should come back in six months.",
      "Is Dr. Patel still at the Main Street office?",
      "I had a crown done there two years ago.",
      "It's been a bit sensitive when I drink something cold.",
      "No, no pain, just sensitive.",
      "Okay, thanks, that works for me.",
      "Oh, and my address changed, we moved to 41 Birch Lane.",
      "That's in Springfield, the zip is 62704.",
      "Do you need my new insurance card?",
      "I can email a photo of it tonight.",
      "Great, thank you so much, bye."};
  size_t tokens = 0;
  for (const auto& s : call) tokens += (*encoder)->tokenizer().Encode(s).size();
  const Timing one = Measure(rounds, [&] { (void)(*encoder)->Encode(query); });
  const Timing batch = Measure(rounds, [&] { (void)(*encoder)->Encode(call); });
  std::cout << "products: " << ((*encoder)->UsesAvx2() ? "AVX2+FMA kernels" : "Eigen") << "\n"
            << "one query sentence (" << (*encoder)->tokenizer().Encode(query).size()
            << " tokens): p50 " << one.p50_us << " us, p95 " << one.p95_us << " us (CPU time p50 "
            << one.cpu_p50_us << " us)\n"
            << "batch of " << call.size() << " call sentences (" << tokens << " tokens): p50 "
            << batch.p50_us << " us, p95 " << batch.p95_us << " us (CPU time p50 "
            << batch.cpu_p50_us << " us)\n";
  return 0;
}

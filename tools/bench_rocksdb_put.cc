// engram-bench-rocksdb: the bare-RocksDB ceiling for durable appends. A loop
// of synced puts (WriteOptions.sync = true) of --value-bytes each, from
// --threads concurrent writers, into a fresh RocksDB with default options.
//
// Why: `engram serve` acknowledges a webhook only after its WAL write was
// synced, so the best it can do is what RocksDB itself does with synced
// writes of the same size and concurrency. Comparing engram-loadgen's
// throughput with this number says how much the HTTP layer, signature check,
// JSON validation and engram's own group commit cost on top. (RocksDB also
// group-commits concurrent writers internally: many threads share one fsync.)
//
// This deliberately bypasses engram's EventLog and talks to RocksDB directly,
// so it is the one tool besides src/log that includes RocksDB headers. The
// database lives in a fresh temporary directory under --dir, removed at the
// end. Each thread writes its own keys, so nothing is overwritten.
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <latch>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace engram::tools {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  int threads = 1;
  uint64_t puts = 10000;
  size_t value_bytes = 20000;
  std::string dir = "/tmp";
  bool no_sync = false;
  bool json = false;
};

struct WorkerResult {
  std::vector<int64_t> latency_us;
  uint64_t failures = 0;
  std::string first_error;
  Clock::time_point done{};
};

// Puts `count` values under keys "w<thread>-<i>". Values are random bytes
// (incompressible, so compression does not shrink what reaches disk) with the
// put's number stamped at the front so no two values are identical.
void Writer(rocksdb::DB* db, const rocksdb::WriteOptions& wo, int thread, uint64_t count,
            size_t value_bytes, std::latch& start, WorkerResult& out) {
  std::mt19937_64 rng(0xC0FFEEull + static_cast<uint64_t>(thread));
  std::string value(value_bytes, '\0');
  for (char& c : value) c = static_cast<char>(rng());
  out.latency_us.reserve(count);
  char key[48];
  start.wait();
  for (uint64_t i = 0; i < count; ++i) {
    const int key_len = std::snprintf(key, sizeof(key), "w%05d-%012llu", thread,
                                      static_cast<unsigned long long>(i));
    std::memcpy(value.data(), &i, std::min(sizeof(i), value.size()));
    const Clock::time_point begin = Clock::now();
    rocksdb::Status s = db->Put(wo, rocksdb::Slice(key, static_cast<size_t>(key_len)), value);
    const Clock::time_point end = Clock::now();
    out.latency_us.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(end - begin).count());
    if (!s.ok()) {
      if (out.failures++ == 0) out.first_error = s.ToString();
    }
  }
  out.done = Clock::now();
}

double PercentileMs(const std::vector<int64_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted_us.size())));
  rank = std::clamp<size_t>(rank, 1, sorted_us.size());
  return static_cast<double>(sorted_us[rank - 1]) / 1000.0;
}

double Round3(double v) { return std::round(v * 1000.0) / 1000.0; }

int Main(const Flags& flags) {
  // mkdtemp gives a directory nobody else is using, so a rerun or a parallel
  // run never opens an existing database.
  std::string pattern = (std::filesystem::path(flags.dir) / "engram-bench-rocksdb-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::cerr << "engram-bench-rocksdb: cannot create a temporary directory under " << flags.dir
              << ": " << std::strerror(errno) << "\n";
    return 2;
  }
  const std::string path = pattern;
  // Removes the database whatever happens below.
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
      if (ec) std::cerr << "engram-bench-rocksdb: could not remove " << path << "\n";
    }
  } cleanup{path};

  std::unique_ptr<rocksdb::DB> db;
  {
    // Default options: the baseline is RocksDB as shipped, not a tuned setup.
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, path + "/db", &raw);
    if (!s.ok()) {
      std::cerr << "engram-bench-rocksdb: open " << path << ": " << s.ToString() << "\n";
      return 2;
    }
    db.reset(raw);
  }
  rocksdb::WriteOptions wo;
  wo.sync = !flags.no_sync;

  const int threads = flags.threads;
  std::vector<WorkerResult> results(static_cast<size_t>(threads));
  std::latch start(1);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    // Spread the total as evenly as possible.
    const uint64_t count = flags.puts / static_cast<uint64_t>(threads) +
                           (static_cast<uint64_t>(t) < flags.puts % static_cast<uint64_t>(threads));
    workers.emplace_back(Writer, db.get(), std::cref(wo), t, count, flags.value_bytes,
                         std::ref(start), std::ref(results[static_cast<size_t>(t)]));
  }
  const Clock::time_point t0 = Clock::now();
  start.count_down();
  for (auto& w : workers) w.join();

  std::vector<int64_t> latency_us;
  latency_us.reserve(flags.puts);
  uint64_t failures = 0;
  std::string first_error;
  Clock::time_point last = t0;
  for (auto& r : results) {
    latency_us.insert(latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    failures += r.failures;
    if (first_error.empty()) first_error = r.first_error;
    last = std::max(last, r.done);
  }
  std::sort(latency_us.begin(), latency_us.end());
  const double duration_secs = std::chrono::duration<double>(last - t0).count();
  const double throughput =
      duration_secs > 0 ? static_cast<double>(latency_us.size()) / duration_secs : 0;
  db->Close();
  db.reset();

  const double p50 = PercentileMs(latency_us, 50), p95 = PercentileMs(latency_us, 95),
               p99 = PercentileMs(latency_us, 99), max = PercentileMs(latency_us, 100);
  char summary[512];
  std::snprintf(summary, sizeof(summary),
                "engram-bench-rocksdb %d thread(s), %llu puts of %zu bytes, sync=%s, in %s\n"
                "  failures   %llu\n"
                "  duration   %.3f s\n"
                "  throughput %.1f puts/s\n"
                "  latency ms p50 %.3f  p95 %.3f  p99 %.3f  max %.3f\n",
                threads, static_cast<unsigned long long>(latency_us.size()), flags.value_bytes,
                wo.sync ? "true" : "false", path.c_str(), static_cast<unsigned long long>(failures),
                duration_secs, throughput, p50, p95, p99, max);
  std::ostream& human = flags.json ? std::cerr : std::cout;
  human << summary;
  if (failures > 0) human << "  first error: " << first_error << "\n";
  if (flags.json) {
    nlohmann::ordered_json out;
    out["tool"] = "engram-bench-rocksdb";
    out["threads"] = threads;
    out["puts"] = latency_us.size();
    out["value_bytes"] = flags.value_bytes;
    out["sync"] = wo.sync;
    out["failures"] = failures;
    out["duration_secs"] = Round3(duration_secs);
    out["throughput_puts_per_sec"] = Round3(throughput);
    out["latency_ms"] = {
        {"p50", Round3(p50)}, {"p95", Round3(p95)}, {"p99", Round3(p99)}, {"max", Round3(max)}};
    std::cout << out.dump() << "\n";
  }
  return failures > 0 ? 1 : 0;
}

}  // namespace
}  // namespace engram::tools

int main(int argc, char** argv) {
  engram::tools::Flags flags;
  CLI::App app{"Bare-RocksDB limit for synced puts, to compare engram serve against."};
  app.add_option("--threads", flags.threads, "Concurrent writers")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--puts", flags.puts, "Total puts over all writers")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  app.add_option("--value-bytes", flags.value_bytes, "Size of each value")
      ->check(CLI::Range(size_t{1}, size_t{64} << 20))
      ->capture_default_str();
  app.add_option("--dir", flags.dir, "Parent of the temporary database directory")
      ->capture_default_str();
  app.add_flag("--no-sync", flags.no_sync,
               "Do not sync the WAL (shows what the fsync costs; not the comparison baseline)");
  app.add_flag("--json", flags.json, "Print one JSON object with the results on stdout");
  CLI11_PARSE(app, argc, argv);
  return engram::tools::Main(flags);
}

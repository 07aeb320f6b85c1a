// engram-bench-recall: the recall engine alone (embed the query, hybrid
// BM25 + dense scan, waypoint expansion, composite ranking) for one user with
// N memories, in-process: no HTTP, no log append. It answers what the memory
// tool's own work costs at sizes the HTTP benchmark (engram-bench-memory)
// cannot reach in reasonable time, because learning 100k memories through
// the projector takes about an hour on 2 cores.
//
// Memories are sentences from a fixed-seed phrase generator, embedded with
// the real GloVe embedder; queries are realistic questions. Prints
// p50/p95/p99/max per size.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "memory/glove_embedder.h"
#include "memory/memory_index.h"
#include "memory/recall.h"
#include "projections/memory_engine.h"

namespace {

std::string Sentence(std::mt19937& rng, int i) {
  static const char* kSubjects[] = {"Priya",          "The caller",    "Her team",
                                    "The sales team", "Their manager", "The warehouse crew"};
  static const char* kVerbs[] = {"exports",   "reconciles", "reviews", "uploads", "prints",
                                 "schedules", "cancels",    "audits",  "merges",  "emails"};
  static const char* kObjects[] = {"the weekly pipeline report", "the invoices",
                                   "the shipping labels",        "the duplicate contacts",
                                   "the quarterly forecast",     "the customer list",
                                   "the support tickets",        "the payroll sheet",
                                   "the inventory counts",       "the renewal quotes"};
  static const char* kTools[] = {"Salesforce", "HubSpot",    "Excel", "NetSuite",
                                 "Zendesk",    "QuickBooks", "Slack", "Jira"};
  static const char* kWhen[] = {"every Monday morning",     "before the standup", "on Fridays",
                                "at the end of each month", "after lunch",        "twice a week"};
  return std::string(kSubjects[rng() % 6]) + " " + kVerbs[rng() % 10] + " " + kObjects[rng() % 10] +
         " in " + kTools[rng() % 8] + " " + kWhen[rng() % 6] + " (note " + std::to_string(i) + ").";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Recall engine latency for one user with N memories (in-process)"};
  std::vector<int> sizes = {1000, 10000, 100000};
  int queries = 2000;
  std::string embeddings;
  app.add_option("--sizes", sizes, "Memories per run")->capture_default_str();
  app.add_option("--queries", queries, "Measured queries per size")->capture_default_str();
  app.add_option("--embeddings", embeddings, "GloVe file (default beside the binary)");
  CLI11_PARSE(app, argc, argv);

  auto glove = engram::memory::GloveEmbedder::Open(
      embeddings.empty() ? engram::projections::DefaultEmbeddingsPath() : embeddings);
  if (!glove.ok()) {
    std::fprintf(stderr, "bench_recall: %s\n", glove.status().ToString().c_str());
    return 1;
  }
  const std::vector<std::string> questions = {
      "what CRM does the customer use",   "when does she export the pipeline report",
      "who reconciles the invoices",      "does the team use Slack",
      "what happens every Monday",        "which tool holds the support tickets",
      "when are the renewal quotes sent", "what does the warehouse crew print"};
  std::printf("%10s %9s %9s %9s %9s %12s\n", "memories", "p50 ms", "p95 ms", "p99 ms", "max ms",
              "build s");
  for (int n : sizes) {
    std::mt19937 rng(20261124);
    engram::memory::MemoryIndex index((*glove)->Dimensions());
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      engram::memory::IndexedMemory m;
      m.id = "m" + std::to_string(i);
      m.content = Sentence(rng, i);
      m.salience = 0.3 + (rng() % 70) / 100.0;
      m.created_at = m.last_seen_at = 1'700'000'000'000 + int64_t(i) * 60'000;
      if (i > 0 && rng() % 3 == 0) {
        m.waypoint_id = "m" + std::to_string(rng() % i);
        m.waypoint_weight = 0.85f;
      }
      auto v = (*glove)->Embed(m.content);
      index.Upsert("u", std::move(m), *v);
    }
    const double build_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<double> ms;
    for (int q = 0; q < queries + 100; ++q) {
      auto start = std::chrono::steady_clock::now();
      auto hits = engram::memory::Recall(index, **glove, "u", questions[q % questions.size()], 5);
      const double took =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      if (!hits.ok() || hits->empty()) {
        std::fprintf(stderr, "bench_recall: empty answer\n");
        return 1;
      }
      if (q >= 100) ms.push_back(took);  // the first 100 warm caches up
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) { return ms[static_cast<size_t>(p * (ms.size() - 1))]; };
    std::printf("%10d %9.3f %9.3f %9.3f %9.3f %12.1f\n", n, pct(0.5), pct(0.95), pct(0.99),
                ms.back(), build_s);
  }
  return 0;
}

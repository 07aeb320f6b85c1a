// engram-bench-index-memory: what the in-memory index of a data folder costs
// in heap, per memory. Loads the read model's current memories into a
// MemoryIndex exactly as `engram serve` does at start (LoadMemoryIndex),
// closes the read model, and reports the heap in use (glibc mallinfo2)
// before and after, and the process's VmRSS. No GloVe model is loaded and no
// query-expansion vocabulary is kept, so the figure is the index's own:
// vectors, texts, BM25 postings and metadata.
//
//   engram-bench-index-memory --data-dir D     (read-only; the server may run)
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "memory/memory_index.h"
#include "projections/memory_projector.h"
#include "projections/read_model.h"
#include "projections/read_model_db.h"

namespace {

double RssMib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// In use: small chunks plus the blocks malloc mmaps on their own (large
// vector matrices).
double HeapMib() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd) / (1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Heap of a data folder's in-memory index, per memory"};
  std::string data_dir;
  int dims = 100;
  app.add_option("--data-dir", data_dir, "The server's data folder (engram.db read-only)")
      ->required();
  app.add_option("--dims", dims, "Vector dimensions (GloVe: 100)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using namespace engram;
  auto db = projections::OpenReadModelReadOnly(data_dir + "/engram.db");
  if (!db.ok()) {
    std::fprintf(stderr, "engram-bench-index-memory: %s\n", db.status().ToString().c_str());
    return 2;
  }
  std::string model;
  {
    auto st = (*db)->Prepare("SELECT model FROM memory_embeddings LIMIT 1");
    if (st.ok()) {
      auto row = st->Step();
      if (row.ok() && *row) model = st->Text(0);
    }
  }
  memory::MemoryIndex index(dims);
  const double heap0 = HeapMib(), rss0 = RssMib();
  const auto t0 = std::chrono::steady_clock::now();
  if (auto s = projections::LoadMemoryIndex(**db, index, model); !s.ok()) {
    std::fprintf(stderr, "engram-bench-index-memory: %s\n", s.ToString().c_str());
    return 2;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  db->reset();
  const double heap_loaded = HeapMib();
  // As `engram serve` does after its load (src/app/application.cc).
  index.ShrinkToFit();
  malloc_trim(0);
  const double heap1 = HeapMib(), rss1 = RssMib();
  const size_t n = index.TotalCount();
  std::printf(
      "{\"memories\":%zu,\"load_secs\":%.2f,\"heap_loaded_mib\":%.1f,\"heap_mib\":%.1f,\"heap_"
      "bytes_per_memory\":%.0f,"
      "\"rss_mib\":%.1f,\"rss_delta_mib\":%.1f}\n",
      n, secs, heap_loaded - heap0, heap1 - heap0, n ? (heap1 - heap0) * (1 << 20) / n : 0.0, rss1,
      rss1 - rss0);
  return 0;
}

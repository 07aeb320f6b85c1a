// libFuzzer target: the read-model swap request, its JSON body and the
// checks on the path it names (replay/replay_origin.h), against a data
// folder with every kind of file an attacker might name: the log's LOCK and
// WAL, the live database, the cache, the lock, links to them, an empty file,
// a foreign SQLite database, an unmarked read model, a replay of another
// log, and the one acceptable file, a replay of this log.
// Input: byte 0 even: the body as is; odd: byte 1 picks one of those files
// and the rest is appended to its path. Must never crash or throw, and must
// accept no path but the replay of this log.
#include <limits.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_world.h"
#include "projections/sqlite_db.h"
#include "replay/replay_origin.h"

namespace {

using engram::fuzz::World;
namespace fs = std::filesystem;

struct SwapWorld {
  World world;
  std::string good;  // realpath of the one acceptable file
  std::vector<std::string> paths;

  SwapWorld() {
    const std::string& data = world.dir;
    const std::string files = data + "-files";
    fs::remove_all(files);
    fs::create_directories(files);
    std::ofstream(data + "/cache.db") << "cache";
    std::ofstream(data + "/engram.lock") << "pid 1 (fuzz)\n";
    std::ofstream(files + "/empty.db").flush();
    (void)World::Must(engram::projections::OpenReadModel(files + "/unmarked.db"));
    Stamp(files + "/good.db", world.log_identity);
    Stamp(files + "/other-log.db", "another-log-identity");
    {
      auto foreign = World::Must(engram::projections::SqliteDb::Open(
          files + "/foreign.db", engram::projections::SqliteDb::Mode::kReadWriteCreate));
      (void)foreign->Exec("CREATE TABLE t (x)");
    }
    fs::create_symlink(data + "/log/LOCK", files + "/lock-link");
    fs::create_symlink(files + "/good.db", files + "/good-link");
    fs::create_hard_link(data + "/cache.db", files + "/cache-hardlink.db");
    char buf[PATH_MAX];
    if (!realpath((files + "/good.db").c_str(), buf)) std::abort();
    good = buf;
    paths = {data + "/log/LOCK",
             data + "/log/CURRENT",
             data + "/log/",
             data + "/engram.db",
             data + "/engram.db-wal",
             data + "/cache.db",
             data + "/engram.lock",
             data,
             files + "/empty.db",
             files + "/unmarked.db",
             files + "/other-log.db",
             files + "/foreign.db",
             files + "/lock-link",
             files + "/good-link",
             files + "/cache-hardlink.db",
             files + "/good.db",
             files + "/../",
             "relative.db"};
    for (const auto& e : fs::directory_iterator(data + "/log")) {
      paths.push_back(e.path().string());
    }
    world.services.swap_read_model =
        [this](const std::string& path) -> engram::Result<nlohmann::json> {
      // The checks a real swap makes first; moving files is not fuzzed.
      auto checked = engram::replay::CheckSwapCandidate(world.dir, path, world.log_identity);
      if (!checked.ok()) return checked.status();
      if (*checked != good) {
        std::fprintf(stderr, "swap accepted %s (resolved %s)\n", path.c_str(), checked->c_str());
        std::abort();
      }
      return nlohmann::json{{"live", *checked}};
    };
  }
  ~SwapWorld() { fs::remove_all(world.dir + "-files"); }

  static void Stamp(const std::string& path, const std::string& identity) {
    (void)World::Must(engram::projections::OpenReadModel(path));
    if (!engram::replay::StampReplayOrigin(path, identity, 0).ok()) std::abort();
  }
};

SwapWorld* swap_ptr = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static SwapWorld w;
  swap_ptr = &w;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  SwapWorld& w = *swap_ptr;
  engram::http::HttpRequest r;
  r.method = "POST";
  r.target = "/v1/admin/read-model/swap";
  r.headers = {{"Authorization", std::string("Bearer ") + engram::fuzz::kAdminToken},
               {"Content-Type", "application/json"}};
  if ((data[0] & 1) == 0 || size < 2) {
    r.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    std::string path = w.paths[data[1] % w.paths.size()];
    path.append(reinterpret_cast<const char*>(data + 2), size - 2);
    r.body = nlohmann::json{{"path", path}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
  }
  const engram::http::HttpResponse res = w.world.Handle(r);
  if (res.status != 200 && res.status != 400) {
    std::fprintf(stderr, "swap answered %d: %s\n", res.status, res.body.c_str());
    std::abort();
  }
  return 0;
}

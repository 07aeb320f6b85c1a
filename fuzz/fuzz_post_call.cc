// libFuzzer target: the post-call webhook payload, end to end through the
// parsers that see it: the route's validation (simdjson, audio dropping) and
// the conversation projector's field parsing into SQLite. Input: a body.
// Must never crash; a body the route accepts must project or be recorded as
// failed, never throw.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/crypto.h"
#include "http/router.h"
#include "log/rocksdb_event_log.h"
#include "projections/conversation_projector.h"
#include "projections/read_model.h"

namespace {

struct World {
  World() {
    dir = std::filesystem::temp_directory_path() / ("engram-fuzz-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    engram::log::RocksDbEventLogOptions o;
    o.path = dir + "/log";
    o.sync = false;  // speed: durability is not what this target checks
    log = std::move(engram::log::RocksDbEventLog::Open(o, engram::SystemClock::Instance())).value();
    db = std::move(engram::projections::OpenReadModel(":memory:")).value();
    services.log = log.get();
    services.clock = &engram::SystemClock::Instance();
    services.post_call.insecure_no_signature = true;  // reach the payload parsers
  }
  ~World() { std::filesystem::remove_all(dir); }
  std::string dir;
  std::unique_ptr<engram::log::RocksDbEventLog> log;
  std::unique_ptr<engram::projections::ReadModelDb> db;
  engram::http::Services services;
  engram::projections::ConversationProjector projector;
};

World* world_ptr = nullptr;

}  // namespace

// Builds the world (RocksDB, SQLite, OpenSSL's lazily created state) before
// fuzzing, so one-time allocations are not mistaken for per-input leaks.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static World world;
  world_ptr = &world;
  (void)engram::crypto::Sha256Hex("warm up");
  std::string mp3;
  (void)engram::crypto::Base64Decode("SUQz", &mp3);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& world = *world_ptr;
  engram::http::HttpRequest r;
  r.method = "POST";
  r.target = "/webhook/post-call";
  r.body.assign(reinterpret_cast<const char*>(data), size);
  const engram::log::Seq before = world.log->Head();
  engram::http::HttpResponse res = engram::http::HandleRequest(r, world.services);
  if (res.status == 200 && world.log->Head() > before) {
    auto events = world.log->ReadAfter(before, 1);
    if (!events.ok() || events->empty()) std::abort();
    (void)world.db->Exec("BEGIN");
    engram::Status s = world.projector.Apply(events->front(), *world.db);
    if (!s.ok()) (void)world.projector.RecordFailure(events->front(), s, *world.db);
    (void)world.db->Exec("COMMIT");
  } else if (res.status != 200 && res.status != 400) {
    std::abort();  // an unsigned-mode body is either accepted or a client error
  }
  return 0;
}

// A local stand-in for an OpenAI-compatible server (/v1/chat/completions,
// /v1/embeddings) on 127.0.0.1 port 0, with the errors and delays a test
// sets; and the small fixtures the LLM tests share.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "http/server.h"
#include "log/rocksdb_event_log.h"
#include "memory/extractor.h"
#include "memory/openai_compat.h"
#include "projections/memory_engine.h"
#include "support/test_support.h"

namespace engram::testing {

// An OpenAI-compatible server on 127.0.0.1 whose behaviour a test sets.
class OpenAiStandIn {
 public:
  enum class Mode { kOk, kServerError, kRateLimited, kSlow, kGarbage, kUnauthorized };

  OpenAiStandIn() {
    http::ServerOptions o;
    o.port = 0;
    o.handler_threads = 4;
    server_ = std::make_unique<http::HttpServer>(
        o, [this](const http::HttpRequest& r) { return Handle(r); });
    if (!server_->Start().ok()) throw std::runtime_error("stand-in failed to start");
  }
  ~OpenAiStandIn() { server_->Stop(std::chrono::milliseconds(0)); }

  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1";
  }
  std::atomic<Mode> mode{Mode::kOk};
  std::atomic<int> chat_calls{0};     // answered
  std::atomic<int> chat_attempts{0};  // received, whatever the answer
  std::atomic<int> embedding_calls{0};
  std::atomic<int> summary_calls{0};
  std::string last_chat_body;  // guarded by single-threaded test use

 private:
  http::HttpResponse Handle(const http::HttpRequest& r);

  std::unique_ptr<http::HttpServer> server_;
};
memory::OpenAiEndpoint Endpoint(const OpenAiStandIn& s, int timeout_ms = 500);
// A log in `dir` holding the first fixture call.
std::unique_ptr<log::RocksDbEventLog> LogWithFirstCall(const TempDir& dir);
// Parts that extract on the projector's thread, as a re-extracting replay
// does (the workers' path is in extraction_test.cc).
projections::MemoryEngineParts Inline(projections::MemoryEngineParts parts);
// One caller turn naming a CRM and a feeling, for Priya Raman.
memory::ExtractionInput Input();

}  // namespace engram::testing

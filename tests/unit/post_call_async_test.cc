// The post-call route without a blocked thread (HandlePostCallAsync through
// StartRequest), over the real RocksDB log, without sockets: the responder's
// three ways back are the test's own, so a test can hold the answers back
// and see what waits.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "http/router.h"
#include "support/test_support.h"

namespace engram::http {
namespace {

using engram::testing::EngramInstance;
using engram::testing::Fixture;
using engram::testing::MakeTranscription;
using engram::testing::SignedPostCall;
using engram::testing::TempDir;
using nlohmann::json;

// A responder whose answers a test waits for, and whose resumed work it may
// hold back (`hold_resumed`) to keep appends pending.
class TestResponder {
 public:
  AsyncResponder Make() {
    AsyncResponder r;
    r.resume = [this](std::function<void()> work) {
      std::unique_lock lock(mu_);
      if (hold_resumed) {
        held_.push_back(std::move(work));
        cv_.notify_all();
        return;
      }
      lock.unlock();
      work();
    };
    r.run_blocking = [this](std::function<void()> work) {
      {
        std::lock_guard lock(mu_);
        ++blocking_runs;
      }
      work();
    };
    r.respond = [this](HttpResponse response) {
      std::lock_guard lock(mu_);
      answers_.push_back(std::move(response));
      cv_.notify_all();
    };
    return r;
  }
  // Waits for the n-th answer (counting from 1).
  HttpResponse Answer(size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(20), [&] { return answers_.size() >= n; }))
        << "no answer " << n;
    return answers_.size() >= n ? answers_[n - 1] : HttpResponse{};
  }
  size_t Answers() {
    std::lock_guard lock(mu_);
    return answers_.size();
  }
  // Waits until `n` resumed works are held back, then returns them.
  std::vector<std::function<void()>> Held(size_t n) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(20), [&] { return held_.size() >= n; }));
    return std::exchange(held_, {});
  }

  bool hold_resumed = false;  // set before the requests
  int blocking_runs = 0;      // guarded by mu_

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<HttpResponse> answers_;
  std::vector<std::function<void()>> held_;
};

class PostCallAsync : public ::testing::Test {
 protected:
  PostCallAsync() : engram_(dir_.path(), NoHttp()) {}
  static EngramInstance::Options NoHttp() {
    EngramInstance::Options o;
    o.start_http = false;
    return o;
  }
  bool Start(HttpRequest request) {
    return StartRequest(std::make_shared<const HttpRequest>(std::move(request)), engram_.services,
                        responder_.Make());
  }
  static HttpRequest Call(const std::string& conversation) {
    return SignedPostCall(MakeTranscription(conversation, "+15550100", {"Hello there"}).dump());
  }

  TempDir dir_;
  EngramInstance engram_;
  TestResponder responder_;
};

TEST_F(PostCallAsync, AnswersAsTheBlockingRouteDoes) {
  const std::string body = Fixture("post_call_transcription.json");
  ASSERT_TRUE(Start(SignedPostCall(body)));
  HttpResponse accepted = responder_.Answer(1);
  EXPECT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(json::parse(accepted.body), json({{"status", "accepted"}, {"seq", 1}}));
  EXPECT_EQ(accepted.log_seq, 1u) << "the access log's seq";
  EXPECT_EQ(engram_.log->ReadAfter(0, 1)->at(0).body, body) << "raw bytes verbatim";

  // A redelivery with the same bytes: the original seq, nothing appended;
  // its body check runs where blocking is allowed.
  ASSERT_TRUE(Start(SignedPostCall(body)));
  HttpResponse duplicate = responder_.Answer(2);
  EXPECT_EQ(json::parse(duplicate.body), json({{"status", "duplicate"}, {"seq", 1}}));
  EXPECT_EQ(responder_.blocking_runs, 1);

  HttpRequest tampered = SignedPostCall(body);
  tampered.body[tampered.body.size() / 2] ^= 1;
  ASSERT_TRUE(Start(tampered));
  EXPECT_EQ(responder_.Answer(3).status, 401);
  HttpRequest malformed = SignedPostCall("{\"type\": ");
  ASSERT_TRUE(Start(malformed));
  EXPECT_EQ(responder_.Answer(4).status, 400);
  EXPECT_EQ(engram_.services.post_call_counters.rejected, 2u) << "refused before any append";
  EXPECT_EQ(engram_.services.post_call_counters.accepted, 1u);
  EXPECT_EQ(engram_.services.post_call_counters.duplicates, 1u);
  EXPECT_EQ(engram_.services.post_call_counters.pending_appends, 0u);
}

TEST_F(PostCallAsync, LeavesOtherRoutesToTheBlockingHandlers) {
  HttpRequest init;
  init.method = "POST";
  init.target = "/webhook/conversation-init";
  init.body = "{}";
  EXPECT_FALSE(Start(init));
  HttpRequest get = Call("conv_get");
  get.method = "GET";
  EXPECT_FALSE(Start(get)) << "a GET of the post-call path gets its 405 from HandleRequest";
  EXPECT_EQ(responder_.Answers(), 0u);
}

TEST_F(PostCallAsync, RefusesBeyondMaxPendingAppendsWith503AndAcknowledgesOnlyDurableEvents) {
  engram_.services.post_call.max_pending_appends = 2;
  responder_.hold_resumed = true;  // the two appends complete, their answers wait
  ASSERT_TRUE(Start(Call("conv_p1")));
  ASSERT_TRUE(Start(Call("conv_p2")));
  std::vector<std::function<void()>> held = responder_.Held(2);
  EXPECT_EQ(engram_.services.post_call_counters.pending_appends, 2u);
  // The completions came after the write. (Learning runs too: its outcomes
  // may follow in the log, so seqs are found by key, not counted.)
  for (const char* key : {"post_call_transcription:conv_p1", "post_call_transcription:conv_p2"}) {
    auto seq = engram_.log->FindByKey(key);
    ASSERT_TRUE(seq.ok() && seq->has_value()) << key;
    EXPECT_LE(**seq, engram_.log->Head()) << key;
  }

  ASSERT_TRUE(Start(Call("conv_p3")));
  HttpResponse busy = responder_.Answer(1);
  EXPECT_EQ(busy.status, 503) << busy.body;
  bool retry_after = false;
  for (const auto& [name, value] : busy.headers) retry_after |= name == "Retry-After";
  EXPECT_TRUE(retry_after);
  EXPECT_FALSE(engram_.log->FindByKey("post_call_transcription:conv_p3")->has_value())
      << "a refused post-call appends nothing";
  EXPECT_EQ(engram_.services.post_call_counters.refused_busy, 1u);

  for (auto& work : held) work();
  EXPECT_EQ(responder_.Answer(2).status, 200);
  EXPECT_EQ(responder_.Answer(3).status, 200);
  EXPECT_EQ(engram_.services.post_call_counters.pending_appends, 0u);
  // Room again: the sender's retry goes through.
  ASSERT_TRUE(Start(Call("conv_p3")));
  for (auto& work : responder_.Held(1)) work();
  HttpResponse retried = responder_.Answer(4);
  EXPECT_EQ(retried.status, 200) << retried.body;
  auto stored = engram_.log->FindByKey("post_call_transcription:conv_p3");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(json::parse(retried.body)["seq"], **stored);
}

TEST_F(PostCallAsync, ChecksLargeBodiesOnTheBlockingPool) {
  json call = MakeTranscription("conv_large", "+15550100", {"Hello there"});
  call["data"]["analysis"]["transcript_summary"] = std::string(1100 * 1024, 'x');
  ASSERT_TRUE(Start(SignedPostCall(call.dump())));
  HttpResponse r = responder_.Answer(1);
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 200);
  EXPECT_EQ(responder_.blocking_runs, 1) << "over 1 MiB: hashed and parsed off the io thread";
}

}  // namespace
}  // namespace engram::http

// The post-call route and its signature check, called without sockets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "http/router.h"
#include "http/signature.h"
#include "log/event_codec.h"
#include "support/test_support.h"

namespace engram::http {
namespace {

using engram::testing::EngramInstance;
using engram::testing::Fixture;
using engram::testing::SignedPostCall;
using engram::testing::TempDir;
using nlohmann::json;

TEST(Signature, MatchesEveryVectorOfTheSharedFile) {
  json vectors = json::parse(engram::testing::ReadFile(engram::testing::SharedDir() +
                                                       "/elevenlabs/signature_vectors.json"));
  const std::string secret = vectors["secret"];
  ASSERT_GE(vectors["vectors"].size(), 10u);
  for (const json& v : vectors["vectors"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    std::string body = v.contains("file") ? Fixture(v["file"]) : v["body"].get<std::string>();
    if (v.contains("file_sha256")) {
      ASSERT_EQ(crypto::Sha256Hex(body), v["file_sha256"]) << "fixture changed";
    }
    const int64_t t = v["timestamp"];
    const int64_t now = v.contains("now") ? v["now"].get<int64_t>() : t + 5;
    Status s = VerifySignature(v["header"].get<std::string>(), body, secret, now);
    const std::string expect = v["expect"];
    if (expect.starts_with("valid")) {
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else {
      EXPECT_EQ(s.code(), StatusCode::kUnauthorized);
      if (expect.find("timestamp") != std::string::npos) {
        EXPECT_NE(s.message().find("expired"), std::string::npos) << s.message();
      } else if (expect.find("no v0") != std::string::npos) {
        EXPECT_NE(s.message().find("v0"), std::string::npos) << s.message();
      } else {
        EXPECT_NE(s.message().find("mismatch"), std::string::npos) << s.message();
      }
    }
    // Every valid vector also expires 1801 s later, per the file's note.
    if (expect.starts_with("valid")) {
      EXPECT_FALSE(VerifySignature(v["header"].get<std::string>(), body, secret, t + 1801).ok());
    }
  }
}

TEST(Signature, ParsesPartsByPrefixWithoutTrimming) {
  EXPECT_TRUE(ParseSignatureHeader("t=1,v0=abc").ok());
  EXPECT_EQ(ParseSignatureHeader("v0=abc,t=7")->timestamp, 7);
  EXPECT_FALSE(ParseSignatureHeader("t=1, v0=abc").ok()) << "a space before v0 is not trimmed";
  EXPECT_FALSE(ParseSignatureHeader("t=x,v0=abc").ok());
  EXPECT_FALSE(ParseSignatureHeader("t=,v0=abc").ok());
  EXPECT_FALSE(ParseSignatureHeader("v0=abc").ok());
  EXPECT_FALSE(ParseSignatureHeader("").ok());
}

TEST(Signature, RejectsFarFutureTimestamps) {
  std::string h = SignatureHeaderValue("s", 10'000, "{}");
  EXPECT_TRUE(VerifySignature(h, "{}", "s", 10'000 - 60).ok()) << "small skew is fine";
  EXPECT_FALSE(VerifySignature(h, "{}", "s", 10'000 - 3600).ok());
}

class PostCallRoute : public ::testing::Test {
 protected:
  PostCallRoute() : engram_(dir_.path(), NoHttp()) {}
  static EngramInstance::Options NoHttp() {
    EngramInstance::Options o;
    o.start_http = false;
    return o;
  }
  HttpResponse Send(const HttpRequest& r) { return HandleRequest(r, engram_.services); }
  json Body(const HttpResponse& r) { return json::parse(r.body); }

  TempDir dir_;
  EngramInstance engram_;
};

TEST_F(PostCallRoute, AcceptsSignedFixtureAndAnswersItsSeq) {
  HttpResponse r = Send(SignedPostCall(Fixture("post_call_transcription.json")));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json({{"status", "accepted"}, {"seq", 1}}));
  auto stored = engram_.log->ReadAfter(0, 1)->at(0);
  EXPECT_EQ(stored.body, Fixture("post_call_transcription.json")) << "raw bytes verbatim";
  EXPECT_EQ(stored.type, "post_call_transcription");
  EXPECT_EQ(stored.verification, log::Verification::kSignatureValid);
  EXPECT_FALSE(stored.HeaderValue("ElevenLabs-Signature").empty());
  EXPECT_EQ(stored.idempotency_key, "post_call_transcription:conv_0801k7b3m9qz2tx5hp4ev6dwc1ry");
}

TEST_F(PostCallRoute, RejectsTamperedExpiredUnsignedAndWrongSecretWithNothingAppended) {
  const std::string body = Fixture("post_call_transcription.json");
  HttpRequest tampered = SignedPostCall(body);
  tampered.body[tampered.body.size() / 2] ^= 1;
  HttpRequest expired = SignedPostCall(body, SystemClock::Instance().NowMicros() / 1000000 - 1801);
  HttpRequest unsigned_request = SignedPostCall(body);
  unsigned_request.headers.clear();
  HttpRequest wrong_secret = SignedPostCall(body, 0, "wsec_other");
  for (const HttpRequest* r : {&tampered, &expired, &unsigned_request, &wrong_secret}) {
    HttpResponse res = Send(*r);
    EXPECT_EQ(res.status, 401) << res.body;
    EXPECT_TRUE(Body(res).contains("error"));
  }
  EXPECT_EQ(engram_.log->Head(), 0u);
  EXPECT_EQ(engram_.services.post_call_counters.rejected.load(), 4u);
}

TEST_F(PostCallRoute, DuplicateDeliveryIsStoredOnceAndCounted) {
  const std::string body = Fixture("post_call_transcription.json");
  EXPECT_EQ(Body(Send(SignedPostCall(body)))["status"], "accepted");
  HttpResponse again = Send(SignedPostCall(body));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(Body(again), json({{"status", "duplicate"}, {"seq", 1}}));
  // Stored once, and the same bytes are no mismatch. (Head() is no measure:
  // the extraction workers append their outcome meanwhile.)
  auto events = engram_.log->ReadAfter(0, 100);
  ASSERT_TRUE(events.ok());
  std::vector<std::string> types;
  for (const auto& e : *events) types.push_back(e.type);
  std::erase(types, "memories_extracted");
  EXPECT_EQ(types, std::vector<std::string>{"post_call_transcription"});
  EXPECT_EQ(engram_.services.post_call_counters.duplicates.load(), 1u);
}

TEST_F(PostCallRoute, MalformedOrIncompleteJsonIs400) {
  for (const std::string body :
       {"", "{", "[1,2]", "{\"data\":{}}", "{\"type\":\"post_call_audio\"}",
        "{\"type\":\"post_call_audio\",\"data\":{\"conversation_id\":7}}",
        "{\"type\":\"post_call_audio\",\"data\":{\"conversation_id\":\"\"}}"}) {
    HttpResponse r = Send(SignedPostCall(body));
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(Body(r)["error"].is_string());
  }
  EXPECT_EQ(engram_.log->Head(), 0u);
}

TEST_F(PostCallRoute, DropsAudioKeepingItsSizeAndDigest) {
  const std::string body = Fixture("post_call_audio.json");
  ASSERT_EQ(Send(SignedPostCall(body)).status, 200);
  auto stored = engram_.log->ReadAfter(0, 1)->at(0);
  EXPECT_TRUE(stored.flags & log::kFlagAudioDropped);
  EXPECT_EQ(stored.original_body_size, body.size());
  EXPECT_EQ(stored.original_body_sha256, crypto::Sha256Hex(body));
  json data = json::parse(stored.body)["data"];
  EXPECT_FALSE(data.contains("full_audio"));
  std::string mp3;
  ASSERT_TRUE(
      crypto::Base64Decode(json::parse(body)["data"]["full_audio"].get<std::string>(), &mp3));
  EXPECT_EQ(data["full_audio_bytes"], mp3.size());
  EXPECT_EQ(data["full_audio_sha256"], crypto::Sha256Hex(mp3));
  engram_.WaitForProjection();
  auto db = engram::testing::OpenDb(engram_.db_path());
  EXPECT_EQ(engram::testing::QueryColumn(*db, "SELECT audio_sha256 FROM conversations")[0],
            crypto::Sha256Hex(mp3));
}

TEST(PostCallRouteKeepAudio, KeepsTheBodyVerbatim) {
  TempDir dir;
  EngramInstance::Options o;
  o.start_http = false;
  o.keep_audio = true;
  EngramInstance engram(dir.path(), o);
  const std::string body = Fixture("post_call_audio.json");
  ASSERT_EQ(HandleRequest(SignedPostCall(body), engram.services).status, 200);
  auto stored = engram.log->ReadAfter(0, 1)->at(0);
  EXPECT_EQ(stored.body, body);
  EXPECT_EQ(stored.flags, log::kFlagNone);
}

TEST(PostCallRouteInsecure, AcceptsUnsignedAndRecordsThatItWasNotChecked) {
  TempDir dir;
  EngramInstance::Options o;
  o.start_http = false;
  o.insecure_no_signature = true;
  EngramInstance engram(dir.path(), o);
  HttpRequest r = SignedPostCall(Fixture("call_initiation_failure.json"));
  r.headers.clear();
  ASSERT_EQ(HandleRequest(r, engram.services).status, 200);
  EXPECT_EQ(engram.log->ReadAfter(0, 1)->at(0).verification, log::Verification::kSignatureSkipped);
}

TEST(Router, UnknownRouteIs404AndWrongMethodIs405) {
  TempDir dir;
  EngramInstance::Options o;
  o.start_http = false;
  EngramInstance engram(dir.path(), o);
  HttpRequest r;
  r.method = "GET";
  r.target = "/nope";
  EXPECT_EQ(HandleRequest(r, engram.services).status, 404);
  r.target = "/webhook/post-call";
  EXPECT_EQ(HandleRequest(r, engram.services).status, 405);
  r.target = "/healthz?verbose=1";
  HttpResponse h = HandleRequest(r, engram.services);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body)["status"], "ok");
}

TEST(ErrorMapping, MapsEveryCodeToAnHttpStatus) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthorized), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kForbidden), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(StatusCode::kIOError), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
  HttpResponse r = ErrorResponse(Status::Unauthorized("nope"));
  EXPECT_EQ(json::parse(r.body), json({{"error", "nope"}}));
}

}  // namespace
}  // namespace engram::http

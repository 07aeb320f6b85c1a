// The typed bodies of Engram's own events (log/event_bodies.h): they encode
// to exactly the bytes the producers wrote before the types existed (so a
// replay of an old log parses the same), round-trip, and refuse bodies that
// are not theirs with an error instead of throwing.
#include "log/event_bodies.h"

#include <gtest/gtest.h>

#include "log/event_types.h"
#include "log/internal_events.h"

namespace engram::log {
namespace {

TEST(EventBodies, EncodeAsTheProducersDidAndRoundTrip) {
  UserForgottenBody forgot{"u1", {"conv_a", "conv_b"}, {3, 7}, {"ck"}, {"ek"}, "cli"};
  EXPECT_EQ(forgot.Encode(),
            R"({"cache_keys":["ck"],"conversations":["conv_a","conv_b"],"embedding_keys":["ek"],)"
            R"("erased_seqs":[3,7],"requested_by":"cli","user_id":"u1"})");
  auto back = UserForgottenBody::Parse(forgot.Encode());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->user_id, "u1");
  EXPECT_EQ(back->conversations, forgot.conversations);
  EXPECT_EQ(back->erased_seqs, forgot.erased_seqs);
  EXPECT_EQ(back->embedding_keys, forgot.embedding_keys);

  ConversationInitiatedBody init{{{"caller_id", "+15125550147"}, {"call_sid", "CA1"}}, "u1", true};
  EXPECT_EQ(init.Encode(),
            R"({"new_user":true,"request":{"call_sid":"CA1","caller_id":"+15125550147"},)"
            R"("user_id":"u1"})");
  auto init_back = ConversationInitiatedBody::Parse(init.Encode());
  ASSERT_TRUE(init_back.ok());
  EXPECT_EQ(init_back->request, init.request);
  EXPECT_TRUE(init_back->new_user);

  MemoryQueriedBody queried;
  queried.request = {{"query", "which CRM"}};
  queried.user_id = "u1";
  queried.returned = {"m1", "m2"};
  queried.latency_ms = 0.512;
  EXPECT_EQ(queried.Encode(),
            R"({"latency_ms":0.512,"request":{"query":"which CRM"},"returned":["m1","m2"],)"
            R"("user_id":"u1"})");
  auto queried_back = MemoryQueriedBody::Parse(queried.Encode());
  ASSERT_TRUE(queried_back.ok());
  EXPECT_EQ(queried_back->returned, queried.returned);
  EXPECT_EQ(queried_back->latency_ms, 0.512);
  EXPECT_EQ(queried_back->status, 200);

  EXPECT_EQ((ProjectionRetryRequestedBody{{4, 9}, "admin"}.Encode()),
            R"({"requested_by":"admin","seqs":[4,9]})");
  EXPECT_EQ((ExtractionRequeuedBody{12, "admin"}.Encode()),
            R"({"requested_by":"admin","source_seq":12})");
  auto requeued = ExtractionRequeuedBody::Parse(R"({"source_seq":12,"requested_by":"admin"})");
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->source_seq, 12u);
}

TEST(EventBodies, BodiesThatAreNotTheirsAreErrorsNotExceptions) {
  for (const char* bad :
       {"", "null", "[]", "{", R"({"user_id":7})", R"({"conversations":[]})",
        R"({"user_id":"u","conversations":[1]})", R"({"user_id":"u","erased_seqs":[-1]})",
        R"({"user_id":"u","erased_seqs":"3"})"}) {
    EXPECT_FALSE(UserForgottenBody::Parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(ConversationInitiatedBody::Parse(R"({"request":"x","user_id":"u"})").ok());
  EXPECT_FALSE(MemoryQueriedBody::Parse("not json").ok());
  // Ids that are not strings were always skipped by the projector.
  auto queried = MemoryQueriedBody::Parse(R"({"request":{},"returned":["m1",5,null,"m2"]})");
  ASSERT_TRUE(queried.ok());
  EXPECT_EQ(queried->returned, (std::vector<std::string>{"m1", "m2"}));
  for (const char* bad :
       {R"({})", R"({"source_seq":0})", R"({"source_seq":-4})", R"({"source_seq":"12"})"}) {
    EXPECT_FALSE(ExtractionRequeuedBody::Parse(bad).ok()) << bad;
  }
  // A retry request is tolerant: what is not a seq is skipped.
  EXPECT_EQ(ProjectionRetryRequestedBody::Parse(R"({"seqs":[0,3,"4",-2,5.5,6]})").seqs,
            (std::vector<Seq>{3, 6}));
  EXPECT_TRUE(ProjectionRetryRequestedBody::Parse("garbage").seqs.empty());
}

TEST(EventTypes, EveryInternalTypeIsNamedOnceAndPostCallTypesAreKnown) {
  EXPECT_TRUE(IsInternalEventType(event_type::kUserForgotten));
  EXPECT_TRUE(IsInternalEventType(event_type::kIdentitySchemeAdopted));
  EXPECT_FALSE(IsInternalEventType(event_type::kPostCallTranscription));
  EXPECT_TRUE(IsPostCallType(event_type::kPostCallAudio));
  EXPECT_TRUE(IsPostCallType(event_type::kCallInitiationFailure));
  EXPECT_FALSE(IsPostCallType(event_type::kMemoryQueried));
  EXPECT_TRUE(IsInternalRoute(event_route::kAdmin));
  EXPECT_TRUE(IsInternalRoute(event_route::kExtraction));
  EXPECT_FALSE(IsInternalRoute(event_route::kPostCall));
}

}  // namespace
}  // namespace engram::log

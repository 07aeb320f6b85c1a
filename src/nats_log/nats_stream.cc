#include "nats_log/nats_stream.h"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace engram::nats_log {
namespace {

constexpr char kAppendHeader[] = "Engram-Append";

// Conditions that pass on their own: a server restarting or a stream
// electing a leader. Everything else fails the request at once.
bool IsTransient(natsStatus s, jsErrCode jerr) {
  switch (jerr) {
    case JSClusterNoPeersErr:    // a cluster still forming
    case JSClusterNotAvailErr:   // "JetStream system temporarily unavailable"
    case JSClusterNotLeaderErr:  // asked a server that just lost leadership
    case JSRaftGeneralErr:
    case JSStreamOfflineErr:
      return true;
    default:
      break;
  }
  switch (s) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:  // no stream leader right now
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
    case NATS_NOT_YET_CONNECTED:
      return true;
    default:
      return false;
  }
}

NatsError MakeError(natsStatus s, jsErrCode jerr, const std::string& what) {
  std::string msg = what + ": " + natsStatus_GetText(s);
  if (jerr != 0) msg += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
  // The client's last-error text is per thread and never cleared: only a
  // JetStream error (the server's own description) is sure to be this one's.
  natsStatus last = NATS_OK;
  if (const char* text = nats_GetLastError(&last); jerr != 0 && text != nullptr && *text != '\0') {
    msg.append(": ").append(text);
  }
  // The client says so for "no responders" on the JetStream API: a server
  // without -js, or one still starting (hence retried, not refused).
  if (jerr == JSNotEnabledErr) msg.append(" (is JetStream enabled: nats-server -js?)");
  NatsError e;
  if (jerr == JSStreamWrongLastSequenceErr) {
    e.failure = Failure::kWrongLastSequence;
    e.status = Status::Conflict(msg);
  } else if (jerr == JSStreamMessageExceedsMaximumErr || s == NATS_MAX_PAYLOAD) {
    e.failure = Failure::kTooLarge;
    e.status = Status::TooLarge(msg);
  } else if (IsTransient(s, jerr)) {
    e.failure = Failure::kTransient;
    e.status = Status::Unavailable(msg);
  } else {
    e.failure = Failure::kPermanent;
    e.status = Status::IOError(msg);
  }
  return e;
}

StoredMsg ToStored(natsMsg* m) {
  StoredMsg out;
  out.seq = natsMsg_GetSequence(m);
  if (const char* subj = natsMsg_GetSubject(m)) out.subject = subj;
  if (const char* data = natsMsg_GetData(m)) {
    out.data.assign(data, static_cast<size_t>(natsMsg_GetDataLength(m)));
  }
  const char* id = nullptr;
  if (natsMsgHeader_Get(m, kAppendHeader, &id) == NATS_OK && id != nullptr) out.append_id = id;
  return out;
}

}  // namespace

struct NatsStream::Handles {
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* tail = nullptr;

  ~Handles() {
    if (tail) {
      // Drained, so no callback runs once this returns (a plain
      // unsubscribe may leave one in flight on the client's thread).
      if (natsSubscription_Drain(tail) != NATS_OK ||
          natsSubscription_WaitForDrainCompletion(tail, 2000) != NATS_OK) {
        natsSubscription_Unsubscribe(tail);
      }
      natsSubscription_Destroy(tail);
    }
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
    if (opts) natsOptions_Destroy(opts);
  }
};

Result<std::unique_ptr<NatsStream>> NatsStream::Connect(
    const std::vector<std::string>& urls, const StreamSpec& spec,
    std::chrono::milliseconds request_timeout, std::chrono::steady_clock::time_point deadline) {
  if (urls.empty()) return Status::InvalidArgument("no NATS server URL");
  auto out = std::unique_ptr<NatsStream>(new NatsStream());
  out->h_ = std::make_unique<Handles>();
  out->name_ = spec.name;
  out->timeout_ = request_timeout;
  out->tail_subject_ = spec.republish_destination;
  Handles& h = *out->h_;
  std::vector<const char*> servers;
  for (const auto& u : urls) servers.push_back(u.c_str());
  natsStatus s = natsOptions_Create(&h.opts);
  if (s == NATS_OK)
    s = natsOptions_SetServers(h.opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(h.opts, "engram");
  // Once connected, reconnect forever (another server of the cluster, or
  // this one back): an append waits within its own deadline meanwhile.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(h.opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(h.opts, 100);
  if (s == NATS_OK) s = natsOptions_SetTimeout(h.opts, 2000);
  if (s != NATS_OK) return MakeError(s, static_cast<jsErrCode>(0), "NATS options").status;

  NatsError last;
  for (;;) {
    s = natsConnection_Connect(&h.nc, h.opts);
    if (s == NATS_OK) break;
    std::string all;
    for (const auto& u : urls) all += (all.empty() ? "" : ",") + u;
    last = MakeError(s, static_cast<jsErrCode>(0), "connect to " + all);
    if (std::chrono::steady_clock::now() >= deadline)
      return Status::Unavailable(last.status.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = request_timeout.count();
  s = natsConnection_JetStream(&h.js, h.nc, &jo);
  if (s != NATS_OK) return MakeError(s, static_cast<jsErrCode>(0), "JetStream context").status;

  std::vector<const char*> subjects;
  for (const auto& subj : spec.subjects) subjects.push_back(subj.c_str());
  for (;;) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_GetStreamInfo(&si, h.js, spec.name.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND && !spec.create) {
      return Status::NotFound("no JetStream stream " + spec.name + " (no Engram has appended yet)");
    }
    if (s == NATS_NOT_FOUND) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = spec.name.c_str();
      cfg.Description = "Engram event log (src/nats_log/README.md)";
      cfg.Subjects = subjects.data();
      cfg.SubjectsLen = static_cast<int>(subjects.size());
      cfg.Storage = js_FileStorage;
      cfg.Replicas = spec.replicas;
      cfg.Duplicates =
          std::chrono::duration_cast<std::chrono::nanoseconds>(spec.duplicate_window).count();
      // The log is append-only: no message may be deleted or purged, which
      // would leave a gap the chain and the projectors cannot cross.
      cfg.DenyDelete = true;
      cfg.DenyPurge = true;
      cfg.AllowDirect = true;
      jsRePublish rp;
      jsRePublish_Init(&rp);
      rp.Source = spec.republish_source.c_str();
      rp.Destination = spec.republish_destination.c_str();
      rp.HeadersOnly = true;
      cfg.RePublish = &rp;
      jerr = static_cast<jsErrCode>(0);
      s = js_AddStream(&si, h.js, &cfg, nullptr, &jerr);
      if (s != NATS_OK && jerr == JSStreamNameExistErr) continue;  // another node made it
    }
    if (s == NATS_OK) {
      const jsStreamConfig* c = si->Config;
      std::string problem;
      if (c->Storage != js_FileStorage) problem = "it uses memory storage";
      bool covered = false;
      for (int i = 0; i < c->SubjectsLen; ++i) {
        covered = covered || std::find(spec.subjects.begin(), spec.subjects.end(),
                                       std::string(c->Subjects[i])) != spec.subjects.end();
      }
      if (!covered) problem = "its subjects are not " + spec.subjects.front();
      if (c->RePublish == nullptr || c->RePublish->Destination == nullptr ||
          spec.republish_destination != c->RePublish->Destination) {
        problem = "it does not republish to " + spec.republish_destination;
      }
      out->at_open_.last_seq = si->State.LastSeq;
      out->at_open_.bytes = si->State.Bytes;
      out->at_open_.created_ns = si->Created;
      out->at_open_.replicas = static_cast<int>(c->Replicas);
      jsStreamInfo_Destroy(si);
      if (!problem.empty()) {
        return Status::InvalidArgument("JetStream stream " + spec.name +
                                       " exists but is not an Engram log: " + problem);
      }
      if (out->at_open_.replicas != spec.replicas) {
        spdlog::warn("JetStream stream {} has {} replica(s), not the {} asked for; kept as it is",
                     spec.name, out->at_open_.replicas, spec.replicas);
      }
      return out;
    }
    last = MakeError(s, jerr, "JetStream stream " + spec.name);
    if (last.failure != Failure::kTransient) return last.status;
    if (std::chrono::steady_clock::now() >= deadline) return last.status;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

NatsStream::~NatsStream() { h_.reset(); }  // before on_seq_ goes

NatsResult<PublishAck> NatsStream::PublishMsg(const Publish& p) {
  NatsResult<PublishAck> out;
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, p.subject.c_str(), nullptr, p.data.data(),
                                static_cast<int>(p.data.size()));
  // Set by hand rather than through jsPubOptions, which cannot say
  // "expected last sequence 0" (an empty stream).
  const std::string expected = std::to_string(p.expected_last_seq);
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Expected-Last-Sequence", expected.c_str());
  if (s == NATS_OK && p.expect_no_subject_msg) {
    s = natsMsgHeader_Set(msg, "Nats-Expected-Last-Subject-Sequence", "0");
  }
  if (s == NATS_OK && !p.msg_id.empty())
    s = natsMsgHeader_Set(msg, "Nats-Msg-Id", p.msg_id.c_str());
  if (s == NATS_OK && !p.append_id.empty()) {
    s = natsMsgHeader_Set(msg, kAppendHeader, p.append_id.c_str());
  }
  if (s != NATS_OK) {
    if (msg) natsMsg_Destroy(msg);
    out.error = MakeError(s, static_cast<jsErrCode>(0), "build message");
    return out;
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeout_.count();
  jsPubAck* ack = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&ack, h_->js, msg, &po, &jerr);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) {
    out.error = MakeError(s, jerr, "publish to " + name_);
    return out;
  }
  out.value = PublishAck{ack->Sequence, ack->Duplicate};
  jsPubAck_Destroy(ack);
  return out;
}

NatsResult<std::optional<StoredMsg>> NatsStream::Get(uint64_t seq) {
  NatsResult<std::optional<StoredMsg>> out;
  natsMsg* m = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetMsg(&m, h_->js, name_.c_str(), seq, nullptr, &jerr);
  if (s == NATS_NOT_FOUND) {
    out.value.emplace();
    return out;
  }
  if (s != NATS_OK) {
    out.error = MakeError(s, jerr, "read seq " + std::to_string(seq) + " of " + name_);
    return out;
  }
  out.value = ToStored(m);
  natsMsg_Destroy(m);
  return out;
}

NatsResult<std::vector<StoredMsg>> NatsStream::DirectRange(uint64_t first, size_t count) {
  NatsResult<std::vector<StoredMsg>> out;
  natsInbox* inbox = nullptr;
  natsSubscription* sub = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  const std::string prefix = s == NATS_OK ? std::string(inbox) + "." : "";
  if (inbox) natsInbox_Destroy(inbox);
  if (s == NATS_OK) s = natsConnection_SubscribeSync(&sub, h_->nc, (prefix + "*").c_str());
  const std::string api = "$JS.API.DIRECT.GET." + name_;
  // Each reply subject ends with the message's index in the range.
  for (size_t i = 0; s == NATS_OK && i < count; ++i) {
    const std::string request = "{\"seq\":" + std::to_string(first + i) + "}";
    s = natsConnection_PublishRequestString(h_->nc, api.c_str(),
                                            (prefix + std::to_string(i)).c_str(), request.c_str());
  }
  if (s != NATS_OK) {
    if (sub) natsSubscription_Destroy(sub);
    out.error = MakeError(s, static_cast<jsErrCode>(0), "direct get from " + name_);
    return out;
  }
  std::vector<std::optional<StoredMsg>> got(count);
  for (size_t answered = 0; answered < count; ++answered) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub, timeout_.count()) != NATS_OK) break;
    const char* reply = natsMsg_GetSubject(m);
    const char* status = nullptr;
    const char* seq = nullptr;
    const size_t index = reply ? std::strtoull(reply + prefix.size(), nullptr, 10) : count;
    // A "Status" header (404 past the end, 408, 503) means no message.
    if (index < count && natsMsgHeader_Get(m, "Status", &status) != NATS_OK &&
        natsMsgHeader_Get(m, "Nats-Sequence", &seq) == NATS_OK && seq != nullptr &&
        std::strtoull(seq, nullptr, 10) == first + index) {
      StoredMsg stored = ToStored(m);
      stored.seq = first + index;
      const char* subject = nullptr;
      if (natsMsgHeader_Get(m, "Nats-Subject", &subject) == NATS_OK && subject) {
        stored.subject = subject;
      }
      got[index] = std::move(stored);
    }
    natsMsg_Destroy(m);
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  out.value.emplace();
  for (auto& g : got) {
    if (!g) break;
    out.value->push_back(std::move(*g));
  }
  return out;
}

NatsResult<std::optional<StoredMsg>> NatsStream::GetLast(const std::string& subject) {
  NatsResult<std::optional<StoredMsg>> out;
  natsMsg* m = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&m, h_->js, name_.c_str(), subject.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND) {
    out.value.emplace();
    return out;
  }
  if (s != NATS_OK) {
    out.error = MakeError(s, jerr, "read the last message on " + subject);
    return out;
  }
  out.value = ToStored(m);
  natsMsg_Destroy(m);
  return out;
}

NatsResult<StreamState> NatsStream::State() {
  NatsResult<StreamState> out;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, h_->js, name_.c_str(), nullptr, &jerr);
  if (s != NATS_OK) {
    out.error = MakeError(s, jerr, "stream info of " + name_);
    return out;
  }
  out.value = StreamState{si->State.LastSeq, si->State.Bytes, si->Created,
                          static_cast<int>(si->Config->Replicas), ""};
  if (si->Cluster != nullptr && si->Cluster->Leader != nullptr) {
    out.value->leader = si->Cluster->Leader;
  }
  jsStreamInfo_Destroy(si);
  return out;
}

Status NatsStream::Tail(std::function<void(uint64_t)> on_seq) {
  on_seq_ = std::move(on_seq);
  natsMsgHandler handler = [](natsConnection*, natsSubscription*, natsMsg* m, void* self) {
    const char* seq = nullptr;
    if (natsMsgHeader_Get(m, "Nats-Sequence", &seq) == NATS_OK && seq != nullptr) {
      static_cast<NatsStream*>(self)->on_seq_(std::strtoull(seq, nullptr, 10));
    }
    natsMsg_Destroy(m);
  };
  natsStatus s = natsConnection_Subscribe(&h_->tail, h_->nc, tail_subject_.c_str(), handler, this);
  if (s != NATS_OK)
    return MakeError(s, static_cast<jsErrCode>(0), "subscribe to " + tail_subject_).status;
  return Status::Ok();
}

int64_t NatsStream::MaxPayload() const { return natsConnection_GetMaxPayload(h_->nc); }

}  // namespace engram::nats_log

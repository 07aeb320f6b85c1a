#include "nats_log/jetstream_work_queue.h"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <thread>

namespace engram::nats_log {
namespace {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;

bool Transient(natsStatus s) {
  return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_DISCONNECTED ||
         s == NATS_NO_SERVER || s == NATS_STALE_CONNECTION || s == NATS_IO_ERROR ||
         s == NATS_NOT_YET_CONNECTED;
}

// The server's words for a JetStream error, when there is one (the client's
// last-error text is per thread and never cleared, so only then).
std::string Describe(natsStatus s, jsErrCode jerr, const std::string& what) {
  std::string msg = what + ": " + natsStatus_GetText(s);
  if (jerr != 0) {
    msg += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
    natsStatus last = NATS_OK;
    if (const char* text = nats_GetLastError(&last); text != nullptr && *text != '\0') {
      msg.append(": ").append(text);
    }
  }
  return msg;
}

natsMsg* Msg(const WorkMessage& m) { return static_cast<natsMsg*>(m.handle.get()); }

}  // namespace

struct JetStreamWorkQueue::Handles {
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  jsOptions jo;
  // One fetch at a time on the shared subscription; each is short.
  std::mutex fetch_mu;

  ~Handles() {
    if (sub) {
      natsSubscription_Unsubscribe(sub);  // not the durable consumer: the others use it
      natsSubscription_Destroy(sub);
    }
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
    if (opts) natsOptions_Destroy(opts);
  }
};

JetStreamWorkQueue::JetStreamWorkQueue(WorkQueueOptions options)
    : options_(std::move(options)), h_(std::make_unique<Handles>()) {}

JetStreamWorkQueue::~JetStreamWorkQueue() = default;

Result<std::unique_ptr<JetStreamWorkQueue>> JetStreamWorkQueue::Open(
    const WorkQueueOptions& options) {
  if (options.urls.empty()) return Status::InvalidArgument("no NATS server URL");
  std::unique_ptr<JetStreamWorkQueue> q(new JetStreamWorkQueue(options));
  Handles& h = *q->h_;
  const auto deadline = std::chrono::steady_clock::now() + options.open_deadline;
  std::vector<const char*> servers;
  for (const auto& u : options.urls) servers.push_back(u.c_str());
  natsStatus s = natsOptions_Create(&h.opts);
  if (s == NATS_OK)
    s = natsOptions_SetServers(h.opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(h.opts, "engram-jobs");
  // As the log's connection: once connected, reconnect forever.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(h.opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(h.opts, 100);
  if (s == NATS_OK) s = natsOptions_SetTimeout(h.opts, 2000);
  if (s != NATS_OK) return Status::IOError(Describe(s, static_cast<jsErrCode>(0), "NATS options"));
  for (;;) {
    s = natsConnection_Connect(&h.nc, h.opts);
    if (s == NATS_OK) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable(Describe(s, static_cast<jsErrCode>(0), "jobs: connect"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  jsOptions_Init(&h.jo);
  h.jo.Wait = options.request_timeout.count();
  s = natsConnection_JetStream(&h.js, h.nc, &h.jo);
  if (s != NATS_OK) return Status::IOError(Describe(s, static_cast<jsErrCode>(0), "JetStream"));

  const std::string subjects = options.subject + ".>";
  const char* subject_list[] = {subjects.c_str()};
  for (;;) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_GetStreamInfo(&si, h.js, options.stream.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = options.stream.c_str();
      // Plain text: the client puts it into the request JSON unescaped.
      cfg.Description = "Engram extraction jobs (docs/CLUSTER.md, Extraction queue)";
      cfg.Subjects = subject_list;
      cfg.SubjectsLen = 1;
      cfg.Retention = js_WorkQueuePolicy;
      cfg.Discard = js_DiscardNew;  // a full queue refuses new jobs, never drops queued ones
      cfg.MaxMsgs = options.max_msgs;
      cfg.MaxBytes = options.max_bytes;
      cfg.MaxMsgSize = options.max_msg_size;
      cfg.Storage = js_FileStorage;
      cfg.Replicas = options.replicas;
      cfg.Duplicates = duration_cast<nanoseconds>(options.duplicate_window).count();
      jerr = static_cast<jsErrCode>(0);
      s = js_AddStream(&si, h.js, &cfg, nullptr, &jerr);
      if (s != NATS_OK && jerr == JSStreamNameExistErr) continue;  // another node made it
    }
    if (s == NATS_OK) {
      const bool work_queue = si->Config->Retention == js_WorkQueuePolicy;
      const int64_t replicas = si->Config->Replicas;
      jsStreamInfo_Destroy(si);
      if (!work_queue) {
        return Status::InvalidArgument("JetStream stream " + options.stream +
                                       " exists but is not a work queue (WorkQueue retention)");
      }
      if (replicas != options.replicas) {
        spdlog::warn("JetStream stream {} has {} replica(s), not the {} asked for; kept as it is",
                     options.stream, replicas, options.replicas);
      }
      break;
    }
    const std::string what = Describe(s, jerr, "jobs: stream " + options.stream);
    if (!Transient(s) || std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable(what);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  // The one durable consumer every node fetches from: a message goes to one
  // fetcher, whichever node it is on.
  for (;;) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = options.consumer.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = duration_cast<nanoseconds>(options.ack_wait).count();
    cc.FilterSubject = subjects.c_str();
    // Redelivered until an outcome is logged; the workers turn a job
    // delivered too often into a dead letter themselves (with a reason).
    cc.MaxDeliver = -1;
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_AddConsumer(&ci, h.js, options.stream.c_str(), &cc, nullptr, &jerr);
    if (ci) jsConsumerInfo_Destroy(ci);
    // Made by another node, maybe with another ack wait: used as it is.
    if (s == NATS_OK || jerr == JSConsumerNameExistErr) {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = options.stream.c_str();
      so.Consumer = options.consumer.c_str();
      jerr = static_cast<jsErrCode>(0);
      s = js_PullSubscribe(&h.sub, h.js, subjects.c_str(), options.consumer.c_str(), nullptr, &so,
                           &jerr);
      if (s == NATS_OK) break;
    }
    const std::string what = Describe(s, jerr, "jobs: consumer " + options.consumer);
    if (!Transient(s) || std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable(what);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return q;
}

Status JetStreamWorkQueue::Publish(const std::string& subject_suffix, const std::string& data,
                                   const std::string& msg_id) {
  if (data.size() > static_cast<size_t>(options_.max_msg_size)) {
    return Status::TooLarge("job of " + std::to_string(data.size()) + " bytes is over the " +
                            std::to_string(options_.max_msg_size) + "-byte limit of " +
                            options_.stream);
  }
  const std::string subject = options_.subject + "." + subject_suffix;
  natsMsg* msg = nullptr;
  natsStatus s =
      natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id.c_str());
  if (s != NATS_OK) {
    if (msg) natsMsg_Destroy(msg);
    return Status::IOError(Describe(s, static_cast<jsErrCode>(0), "build job message"));
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = options_.request_timeout.count();
  jsPubAck* ack = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&ack, h_->js, msg, &po, &jerr);
  natsMsg_Destroy(msg);
  if (ack) jsPubAck_Destroy(ack);
  if (s == NATS_OK) return Status::Ok();
  std::string what = Describe(s, jerr, "publish to " + options_.stream);
  // "maximum messages exceeded" / "maximum bytes exceeded" (discard new).
  if (jerr == JSStreamStoreFailedErr || what.find("maximum") != std::string::npos) {
    return Status::Unavailable("extraction queue " + options_.stream + " is full (at most " +
                               std::to_string(options_.max_msgs) + " jobs, " +
                               std::to_string(options_.max_bytes) + " bytes): " + what);
  }
  if (jerr == JSStreamMessageExceedsMaximumErr) return Status::TooLarge(what);
  return Status::Unavailable(what);
}

Result<std::optional<WorkMessage>> JetStreamWorkQueue::Fetch(std::chrono::milliseconds wait) {
  natsMsgList list{};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s;
  {
    std::lock_guard lock(h_->fetch_mu);
    s = natsSubscription_Fetch(&list, h_->sub, 1, std::max<int64_t>(1, wait.count()), &jerr);
  }
  if (s == NATS_TIMEOUT) return std::optional<WorkMessage>();
  if (s != NATS_OK) {
    // A reconnect or an election: the caller tries again later.
    return Status::Unavailable(Describe(s, jerr, "fetch from " + options_.stream));
  }
  std::optional<WorkMessage> out;
  if (list.Count > 0 && list.Msgs[0] != nullptr) {
    natsMsg* m = list.Msgs[0];
    list.Msgs[0] = nullptr;  // ours now, not the list's
    WorkMessage w;
    if (const char* subj = natsMsg_GetSubject(m)) w.subject = subj;
    if (const char* d = natsMsg_GetData(m)) {
      w.data.assign(d, static_cast<size_t>(natsMsg_GetDataLength(m)));
    }
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK && meta != nullptr) {
      w.deliveries = meta->NumDelivered;
      jsMsgMetaData_Destroy(meta);
    }
    w.handle = std::shared_ptr<void>(m, [](void* p) { natsMsg_Destroy(static_cast<natsMsg*>(p)); });
    out = std::move(w);
  }
  natsMsgList_Destroy(&list);
  return out;
}

Status JetStreamWorkQueue::Ack(const WorkMessage& m) {
  natsStatus s = natsMsg_AckSync(Msg(m), &h_->jo, nullptr);
  return s == NATS_OK ? Status::Ok()
                      : Status::Unavailable(Describe(s, static_cast<jsErrCode>(0), "ack"));
}

Status JetStreamWorkQueue::Nak(const WorkMessage& m, std::chrono::milliseconds delay) {
  natsStatus s = natsMsg_NakWithDelay(Msg(m), delay.count(), &h_->jo);
  return s == NATS_OK ? Status::Ok()
                      : Status::Unavailable(Describe(s, static_cast<jsErrCode>(0), "nak"));
}

Status JetStreamWorkQueue::InProgress(const WorkMessage& m) {
  natsStatus s = natsMsg_InProgress(Msg(m), &h_->jo);
  return s == NATS_OK ? Status::Ok()
                      : Status::Unavailable(Describe(s, static_cast<jsErrCode>(0), "in progress"));
}

Status JetStreamWorkQueue::Term(const WorkMessage& m) {
  natsStatus s = natsMsg_Term(Msg(m), &h_->jo);
  return s == NATS_OK ? Status::Ok()
                      : Status::Unavailable(Describe(s, static_cast<jsErrCode>(0), "term"));
}

Result<uint64_t> JetStreamWorkQueue::Depth() const {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, h_->js, options_.stream.c_str(), nullptr, &jerr);
  if (s != NATS_OK) return Status::Unavailable(Describe(s, jerr, "stream info"));
  const uint64_t msgs = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return msgs;
}

}  // namespace engram::nats_log

#include "replay/forget.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "log/event_bodies.h"
#include "log/event_types.h"
#include "log/internal_events.h"
#include "replay/audit.h"

namespace engram::replay {

using nlohmann::json;

Result<ForgetPlan> PlanForget(const log::EventLog& log, projections::ReadModelDb& db,
                              const std::string& who, const std::string& embedding_model) {
  ENGRAM_ASSIGN_OR_RETURN(AuditTrail trail, AuditUser(log, db, who));
  ForgetPlan plan;
  plan.user_id = trail.user_id;
  plan.conversations = trail.conversations;
  for (const AuditEntry& a : trail.entries) {
    plan.seqs.push_back(a.seq);
    if (a.type != log::event_type::kMemoriesExtracted) continue;
    ENGRAM_ASSIGN_OR_RETURN(auto one, log.ReadAfter(a.seq - 1, 1));
    if (one.empty()) continue;
    json body = json::parse(one[0].body, nullptr, false);
    if (body.is_object() && body.contains("cache_key") && body["cache_key"].is_string()) {
      plan.cache_keys.push_back(body["cache_key"]);
    }
  }
  ENGRAM_ASSIGN_OR_RETURN(projections::Statement st,
                          db.Prepare("SELECT content FROM memories WHERE user_id = ?"));
  st.Bind(1, plan.user_id);
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string material = embedding_model;
    material.append("\n").append(st.Text(0));
    plan.embedding_keys.push_back(crypto::Sha256Hex(material));
  }
  return plan;
}

Result<log::Seq> Forget(log::EventLog& log, const ForgetPlan& plan,
                        const std::string& requested_by) {
  log::NewEvent e;
  e.type = log::event_type::kUserForgotten;
  e.route = log::event_route::kAdmin;
  e.idempotency_key = log::InternalIdempotencyKey(
      "forget:" + plan.user_id + ":" + std::to_string(plan.seqs.size()) + ":" +
      std::to_string(plan.seqs.empty() ? 0 : plan.seqs.back()));
  e.body = log::UserForgottenBody{plan.user_id,    plan.conversations,  plan.seqs,
                                  plan.cache_keys, plan.embedding_keys, requested_by}
               .Encode();
  ENGRAM_ASSIGN_OR_RETURN(log::AppendResult appended, log.Append(std::move(e)));
  if (!plan.seqs.empty()) ENGRAM_RETURN_IF_ERROR(log.Erase(plan.seqs, appended.seq));
  return appended.seq;
}

}  // namespace engram::replay

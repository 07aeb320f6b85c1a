// Tamper evidence: walking the log's hash chain.
//
// Each entry's chain_hash is SHA-256(previous chain_hash ‖ its fields), and
// its body_sha256 is the body's digest (FORMAT.md). Changing any stored
// byte of an entry — a field, the body, the order of entries, a deleted
// entry — breaks the chain at that entry or the next one. This walk finds
// the first break.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/status.h"
#include "log/event_log.h"

namespace engram::log {

struct ChainBreak {
  Seq seq = 0;         // the first entry that does not verify
  std::string reason;  // what does not match, for a human
};

struct ChainReport {
  Seq checked = 0;  // entries verified before the break (or all of them)
  Seq erased = 0;   // of those, entries whose body was erased (its digest is not checked)
  std::string head_chain_hash;  // the last verified entry's chain hash
  std::optional<ChainBreak> first_break;
};

// Called every few thousand entries with (entries checked, log head).
using ChainProgressFn = std::function<void(Seq checked, Seq head)>;

// Walks `log` from seq 1 to its head. An error only when the log cannot be
// read at all; a damaged entry is a break, not an error.
Result<ChainReport> VerifyChain(const EventLog& log, const ChainProgressFn& progress = {});

}  // namespace engram::log

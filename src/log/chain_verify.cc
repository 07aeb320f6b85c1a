#include "log/chain_verify.h"

#include "common/crypto.h"
#include "log/event_codec.h"

namespace engram::log {

Result<ChainReport> VerifyChain(const EventLog& log, const ChainProgressFn& progress) {
  ChainReport report;
  const Seq head = log.Head();
  std::string prev;  // "" chains from 32 zero bytes
  Seq after = 0;
  auto broken = [&](Seq seq, std::string reason) {
    report.first_break = ChainBreak{seq, std::move(reason)};
    return report;
  };
  while (after < head) {
    auto batch = log.ReadAfter(after, 1024);
    if (!batch.ok()) {
      // One entry in this batch does not decode: find which, reading one by
      // one from here.
      auto one = log.ReadAfter(after, 1);
      if (!one.ok()) return broken(after + 1, one.status().ToString());
      batch = std::move(one);
    }
    if (batch->empty())
      return broken(after + 1, "entry missing (log head is " + std::to_string(head) + ")");
    for (const Event& e : *batch) {
      if (e.seq != after + 1) {
        return broken(after + 1,
                      "entry missing: the next stored entry is " + std::to_string(e.seq));
      }
      if (e.erased) {
        ++report.erased;  // the digest names bytes that are gone on purpose
      } else if (crypto::Sha256Hex(e.body) != e.body_sha256) {
        return broken(e.seq, "body does not match its body_sha256");
      }
      const std::string expected = ComputeChainHash(prev, e);
      if (expected != e.chain_hash) {
        return broken(e.seq, "chain_hash does not match the entry and the one before it");
      }
      prev = e.chain_hash;
      after = e.seq;
      report.checked = e.seq;
      report.head_chain_hash = prev;
      if (progress && e.seq % 4096 == 0) progress(e.seq, head);
    }
  }
  if (progress) progress(report.checked, head);
  return report;
}

}  // namespace engram::log

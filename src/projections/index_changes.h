// IndexChanges: what one commit of the active projector changed in the
// vector index, as it tells the other nodes of a shared read model
// (PostgreSQL NOTIFY on kIndexChangesChannel, sent inside the commit's
// transaction, so a notification exists only for a committed change).
//
// Wire format, one notification payload (UTF-8 JSON, under PostgreSQL's
// 8000-byte limit):
//   {"v":1,"o":"<origin>","u":["<user id>",...],"f":["<user id>",...]}
//   {"v":1,"o":"<origin>","all":true}
// "o" names the sending process, so it can skip its own commits (it applied
// them in process already); "u" lists users whose current memories,
// salience or links changed; "f" users forgotten (their memories and every
// cached answer go); "all" asks for a whole reload (a user id too long to fit
// a payload). A commit touching many users is split across payloads.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace engram::projections {

inline constexpr char kIndexChangesChannel[] = "engram_memories";

// PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; payloads are
// kept below this, which leaves room for the server's own framing.
inline constexpr size_t kMaxNotifyPayloadBytes = 7900;

struct IndexChanges {
  std::string origin;
  std::vector<std::string> users;      // changed
  std::vector<std::string> forgotten;  // removed with every cached answer
  bool reload_all = false;
};

// `changes` as payloads, each under kMaxNotifyPayloadBytes; none when
// nothing changed. A user id that cannot fit a payload turns the whole
// batch into one "all" payload.
std::vector<std::string> EncodeIndexChanges(const IndexChanges& changes);

// One payload. InvalidArgument for anything but the format above (the
// channel is open to every session of the database: treat it as hostile).
Result<IndexChanges> ParseIndexChanges(std::string_view payload);

}  // namespace engram::projections

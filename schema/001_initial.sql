-- Engram read model, version 1. Every row here is derived from the event log
-- (src/log) by a projector (src/projections); the database can be deleted and
-- rebuilt with `engram replay`. Times are Unix milliseconds (INTEGER).
-- Ids derive from event content and sequence numbers, never from the clock.

CREATE TABLE schema_version (
  version INTEGER NOT NULL,
  name    TEXT NOT NULL
);

-- One row per projector: the last log seq it applied. Moves in the same
-- transaction as the rows it covers.
CREATE TABLE checkpoints (
  name TEXT PRIMARY KEY,      -- projector name with version, e.g. 'conversations.v1'
  seq  INTEGER NOT NULL
);

-- One row per received webhook (post-call, init) event in the log.
CREATE TABLE webhook_events (
  seq             INTEGER PRIMARY KEY,     -- the event's log seq
  type            TEXT NOT NULL,           -- post_call_transcription, post_call_audio, ...
  route           TEXT NOT NULL,
  conversation_id TEXT,
  received_at     INTEGER NOT NULL,
  event_timestamp INTEGER,                 -- body's event_timestamp, Unix seconds
  verification    TEXT NOT NULL,
  body_bytes      INTEGER NOT NULL,
  status          TEXT NOT NULL
                  CHECK (status IN ('pending', 'processing', 'done', 'failed', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  last_error      TEXT
);
CREATE INDEX webhook_events_by_status ON webhook_events(status);
CREATE INDEX webhook_events_by_conversation ON webhook_events(conversation_id);

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  name          TEXT,
  summary       TEXT,
  summary_seq   INTEGER,                   -- event after which the summary was made
  created_at    INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  created_seq   INTEGER NOT NULL
);

-- Caller id (E.164 phone number or SIP caller) -> user. One person may call
-- from several numbers; the init webhook maps by this table.
CREATE TABLE user_identities (
  caller_id     TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  first_seen_at INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  source_seq    INTEGER NOT NULL
);
CREATE INDEX user_identities_by_user ON user_identities(user_id);

CREATE TABLE conversations (
  id                 TEXT PRIMARY KEY,     -- ElevenLabs conversation_id
  user_id            TEXT REFERENCES users(id) ON DELETE CASCADE,
  agent_id           TEXT,
  agent_name         TEXT,
  status             TEXT,                 -- ElevenLabs status, or 'initiation_failed'
  caller_id          TEXT,
  called_number      TEXT,
  call_sid           TEXT,
  direction          TEXT,
  started_at         INTEGER,
  duration_secs      INTEGER,
  termination_reason TEXT,
  failure_reason     TEXT,                 -- call_initiation_failure: busy, no-answer, unknown
  has_audio          INTEGER NOT NULL DEFAULT 0,
  audio_bytes        INTEGER,
  audio_sha256       TEXT,
  transcript_seq     INTEGER,              -- event that supplied the transcript
  updated_seq        INTEGER NOT NULL
);
CREATE INDEX conversations_by_user ON conversations(user_id, started_at);
CREATE INDEX conversations_by_call_sid ON conversations(call_sid);

CREATE TABLE conversation_turns (
  conversation_id   TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  turn_index        INTEGER NOT NULL,      -- position in data.transcript
  role              TEXT NOT NULL,         -- user | agent
  message           TEXT,                  -- NULL on tool-only turns
  time_in_call_secs REAL,
  interrupted       INTEGER NOT NULL DEFAULT 0,
  source_medium     TEXT,
  feedback          TEXT,                  -- like | dislike
  PRIMARY KEY (conversation_id, turn_index)
);

CREATE TABLE conversation_analysis (
  conversation_id     TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
  call_successful     TEXT,
  transcript_summary  TEXT,
  call_summary_title  TEXT,
  data_collection     TEXT NOT NULL DEFAULT '{}',  -- JSON: {id: {value, rationale}}
  evaluation_results  TEXT NOT NULL DEFAULT '{}'   -- JSON: {id: {result, rationale}}
);

-- Tool calls: those recorded in transcripts (source 'transcript') and calls
-- of Engram's own memory tool (source 'memory_tool').
CREATE TABLE tool_invocations (
  id              TEXT PRIMARY KEY,        -- request_id, or 'mq-<seq>' for memory-tool calls
  conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
  user_id         TEXT REFERENCES users(id) ON DELETE CASCADE,
  source          TEXT NOT NULL CHECK (source IN ('transcript', 'memory_tool')),
  tool_name       TEXT NOT NULL,
  tool_type       TEXT,
  turn_index      INTEGER,
  params          TEXT,                    -- JSON text as sent
  result          TEXT,                    -- result text as returned
  is_error        INTEGER NOT NULL DEFAULT 0,
  latency_ms      REAL,
  invoked_at      INTEGER,
  event_seq       INTEGER NOT NULL
);
CREATE INDEX tool_invocations_by_conversation ON tool_invocations(conversation_id);

CREATE TABLE memories (
  id                     TEXT PRIMARY KEY,
  user_id                TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  content                TEXT NOT NULL,
  primary_sector         TEXT NOT NULL CHECK (primary_sector IN
                           ('semantic', 'episodic', 'procedural', 'emotional', 'reflective')),
  sectors                TEXT NOT NULL DEFAULT '[]',  -- JSON array, primary first
  subject                TEXT,             -- normalised subject key used to find contradictions
  salience               REAL NOT NULL,
  reinforcements         INTEGER NOT NULL DEFAULT 0,
  created_at             INTEGER NOT NULL, -- the call's time
  last_seen_at           INTEGER NOT NULL,
  valid_from             INTEGER NOT NULL,
  valid_to               INTEGER,          -- NULL while current
  superseded_by          TEXT REFERENCES memories(id) ON DELETE SET NULL,
  source_conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
  source_turns           TEXT NOT NULL DEFAULT '[]',  -- JSON array of turn indices
  created_seq            INTEGER NOT NULL
);
CREATE INDEX memories_by_user_sector ON memories(user_id, primary_sector);
CREATE INDEX memories_by_user_current ON memories(user_id, valid_to);

CREATE TABLE memory_embeddings (
  memory_id TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  sector    TEXT NOT NULL,
  model     TEXT NOT NULL,                 -- the embedder that made the vector
  dim       INTEGER NOT NULL,
  vector    BLOB NOT NULL,                 -- dim little-endian float32
  PRIMARY KEY (memory_id, sector)
);

-- Waypoint graph: links from a memory to earlier memories of the same user.
CREATE TABLE memory_links (
  src_id      TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  dst_id      TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  weight      REAL NOT NULL,               -- cosine similarity
  is_waypoint INTEGER NOT NULL DEFAULT 0,  -- the strongest link of src
  PRIMARY KEY (src_id, dst_id)
);
CREATE INDEX memory_links_by_dst ON memory_links(dst_id);

CREATE TABLE conversation_memories (
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  memory_id       TEXT NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  relation        TEXT NOT NULL CHECK (relation IN ('created', 'reinforced', 'superseded')),
  PRIMARY KEY (conversation_id, memory_id, relation)
);
CREATE INDEX conversation_memories_by_memory ON conversation_memories(memory_id);

-- Which user a live call belongs to: the init webhook binds its call_sid
-- (which is also the memory tool's system__call_sid) to the user it served,
-- so the tool can refuse a request for another caller's memories.
CREATE TABLE call_bindings (
  call_sid  TEXT PRIMARY KEY,
  user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  agent_id  TEXT,
  caller_id TEXT,
  bound_at  INTEGER NOT NULL,
  seq       INTEGER NOT NULL
);
CREATE INDEX call_bindings_by_user ON call_bindings(user_id);

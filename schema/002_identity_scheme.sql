-- The identity scheme the log adopted (src/identity/identity_scheme.h): for
-- events with seq > from_seq, caller ids are normalised to E.164 (numbers
-- without a leading '+' read in default_region) and new user ids derive
-- from the installation's key (key_id names it; the key is never stored).
-- Events up to from_seq keep raw caller ids and "u_" + SHA-256(number).
-- At most one row; none before the first `engram serve` that adopted it.
CREATE TABLE identity_scheme (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  from_seq       INTEGER NOT NULL,
  key_id         TEXT NOT NULL,
  default_region TEXT NOT NULL
);

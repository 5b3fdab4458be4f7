-- Rows for lock requests (DESIGN §6): their transitions as actions, background work as the
-- `scheduler` channel, the request a row belongs to, and the `unknown` row a `settle` row
-- settles. Both columns are attempt columns (written with the row, never by sealing), so the
-- append-only trigger, which lets sealing change only the seal columns, already covers them,
-- and the gateway's role needs no new grant. Older rows hold null in both and were hashed
-- without them.

ALTER TABLE audit_events
  DROP CONSTRAINT audit_events_action_check,
  ADD CONSTRAINT audit_events_action_check CHECK (action IN ('enable', 'extend', 'show',
    'request', 'approve', 'deny', 'cancel', 'expire', 'void', 'execute', 'settle')),
  DROP CONSTRAINT audit_events_channel_check,
  ADD CONSTRAINT audit_events_channel_check CHECK (channel IN ('graphql', 'rest', 'scheduler')),
  ADD COLUMN lock_request_id text,
  ADD COLUMN settles_audit_id text;

-- The history of one request, newest first; most rows belong to none.
CREATE INDEX audit_events_lock_request ON audit_events (lock_request_id, id)
  WHERE lock_request_id IS NOT NULL;

-- The OpenTelemetry trace of the call that wrote a row (32 lowercase hex digits), when the
-- gateway traces. An attempt column, written with the row and never by sealing, so the
-- append-only trigger already covers it. Older rows hold null and were hashed without it.

ALTER TABLE audit_events
  ADD COLUMN trace_id text CHECK (trace_id ~ '^[0-9a-f]{32}$');

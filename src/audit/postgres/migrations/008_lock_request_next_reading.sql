-- When an UNKNOWN lock request's lock is read again, once a reading proved nothing: without it an
-- undecided request was read on every pass after the grace, for as long as it stayed UNKNOWN.
-- Older rows hold null, which is what a request that was never read holds.

ALTER TABLE lock_requests
  ADD COLUMN next_reading_at text
    CHECK (next_reading_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$');

-- When an UNKNOWN lock request's lock is read again, once a reading proved nothing: without it an
-- undecided request was read on every pass after the grace, for as long as it stayed UNKNOWN.
-- Older rows hold null, which is what a request that was never read holds.

ALTER TABLE lock_requests
  ADD COLUMN next_reading_at text
    CHECK (next_reading_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$');

-- Transitions move the new column too: it joins the ones the bound-fields trigger lets differ.
CREATE OR REPLACE FUNCTION lock_requests_bound_fields() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF to_jsonb(NEW) - ARRAY['state', 'approvals', 'not_before', 'expires_at', 'updated_at',
                           'reason', 'executor', 'claim_until', 'execution_audit_id',
                           'next_reading_at', 'version']
     IS DISTINCT FROM
     to_jsonb(OLD) - ARRAY['state', 'approvals', 'not_before', 'expires_at', 'updated_at',
                           'reason', 'executor', 'claim_until', 'execution_audit_id',
                           'next_reading_at', 'version'] THEN
    RAISE EXCEPTION 'what a lock request was made for and decided on never changes'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;

-- When an UNKNOWN lock request's lock is read again, once a reading proved nothing: without it an
-- undecided request was read on every pass after the grace, for as long as it stayed UNKNOWN.
-- Older rows hold null, which is what a request that was never read holds.

ALTER TABLE lock_requests
  ADD COLUMN next_reading_at text
    CHECK (next_reading_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$');

-- The bound-fields trigger named the columns transitions may move, so a new one such as this was
-- refused. It names the bound ones instead, as SQLite's trigger does: a column added for
-- transitions later needs no change here, and one that must never change is listed on purpose.
CREATE OR REPLACE FUNCTION lock_requests_bound_fields() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.id, NEW.project_id, NEW.instance_id, NEW.action, NEW.retention_days, NEW.requester_iss,
      NEW.requester_sub, NEW.requester_groups, NEW.rule_id, NEW.policy_version,
      NEW.approvals_required, NEW.approver_groups, NEW.cooling_off_seconds, NEW.lock_enabled,
      NEW.lock_retention_days, NEW.lock_ends_at_ms, NEW.fingerprint, NEW.created_at)
     IS DISTINCT FROM
     (OLD.id, OLD.project_id, OLD.instance_id, OLD.action, OLD.retention_days, OLD.requester_iss,
      OLD.requester_sub, OLD.requester_groups, OLD.rule_id, OLD.policy_version,
      OLD.approvals_required, OLD.approver_groups, OLD.cooling_off_seconds, OLD.lock_enabled,
      OLD.lock_retention_days, OLD.lock_ends_at_ms, OLD.fingerprint, OLD.created_at) THEN
    RAISE EXCEPTION 'what a lock request was made for and decided on never changes'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;

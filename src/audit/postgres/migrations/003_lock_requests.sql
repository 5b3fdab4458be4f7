-- Lock requests (DESIGN §6), beside the audit trail in the same database. Times are the
-- gateway's ISO strings (toISOString), stored exactly as given: in that one shape text order is
-- time order, so deadlines compare as text; the CHECKs refuse any other shape. Every write is a
-- compare-and-set on version (UPDATE ... WHERE id = $1 AND version = $2).

CREATE TABLE lock_requests (
  id text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('PENDING_APPROVAL', 'SCHEDULED', 'EXECUTING', 'SUCCEEDED',
    'FAILED', 'UNKNOWN', 'DENIED', 'CANCELLED', 'EXPIRED', 'VOIDED')),
  project_id text NOT NULL,
  instance_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('enable', 'extend')),
  retention_days integer NOT NULL CHECK (retention_days >= 1),
  requester_iss text NOT NULL,
  requester_sub text NOT NULL,
  -- The requester's groups, for asking the policy again just before execution.
  requester_groups text[] NOT NULL CHECK (array_position(requester_groups, NULL) IS NULL),
  rule_id text NOT NULL,
  policy_version text NOT NULL,
  approvals_required integer NOT NULL CHECK (approvals_required >= 0),
  -- Overlap with the approver's groups is `approver_groups && $groups`.
  approver_groups text[] NOT NULL CHECK (array_position(approver_groups, NULL) IS NULL),
  cooling_off_seconds integer NOT NULL CHECK (cooling_off_seconds >= 0),
  -- [{approverIss, approverSub, decision, comment, at}], in the order they were given.
  approvals jsonb NOT NULL CHECK (jsonb_typeof(approvals) = 'array'),
  lock_enabled boolean NOT NULL,
  lock_retention_days integer,
  lock_ends_at_ms bigint,
  fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  not_before text CHECK (not_before ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'),
  expires_at text NOT NULL CHECK (expires_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'),
  created_at text NOT NULL CHECK (created_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'),
  updated_at text NOT NULL CHECK (updated_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'),
  reason text,
  executor text,
  claim_until text CHECK (claim_until ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'),
  execution_audit_id text,
  version integer NOT NULL CHECK (version >= 1),
  CHECK (state <> 'SCHEDULED' OR not_before IS NOT NULL),
  CHECK (state <> 'EXECUTING' OR (executor IS NOT NULL AND claim_until IS NOT NULL))
);
-- What background work looks for (listActionable), one index per kind of deadline.
CREATE INDEX lock_requests_state_not_before ON lock_requests (state, not_before);
CREATE INDEX lock_requests_state_expires_at ON lock_requests (state, expires_at);
CREATE INDEX lock_requests_state_claim_until ON lock_requests (state, claim_until);
CREATE INDEX lock_requests_state_updated_at ON lock_requests (state, updated_at);
-- The listings: `mine`, and one instance's requests, newest first.
CREATE INDEX lock_requests_requester ON lock_requests (requester_iss, requester_sub, id);
CREATE INDEX lock_requests_instance ON lock_requests (project_id, instance_id, id);

-- What a request was made for and decided on (what its approvals bind to, among others) never
-- changes, whoever updates it: a bug in a transition cannot rewrite it. Only the columns that
-- transitions move may differ.
CREATE FUNCTION lock_requests_bound_fields() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF to_jsonb(NEW) - ARRAY['state', 'approvals', 'not_before', 'expires_at', 'updated_at',
                           'reason', 'executor', 'claim_until', 'execution_audit_id', 'version']
     IS DISTINCT FROM
     to_jsonb(OLD) - ARRAY['state', 'approvals', 'not_before', 'expires_at', 'updated_at',
                           'reason', 'executor', 'claim_until', 'execution_audit_id', 'version'] THEN
    RAISE EXCEPTION 'what a lock request was made for and decided on never changes'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER lock_requests_bound_fields
  BEFORE UPDATE ON lock_requests
  FOR EACH ROW EXECUTE FUNCTION lock_requests_bound_fields();

-- Background work that runs on one replica at a time holds a named lease here until `until`.
CREATE TABLE background_leases (
  name text PRIMARY KEY,
  holder text NOT NULL,
  until text NOT NULL CHECK (until ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$')
);

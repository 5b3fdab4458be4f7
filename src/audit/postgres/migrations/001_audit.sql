-- The audit trail (DESIGN §3, §5). Columns as AUDIT_COLUMN_TABLE defines them, stored exactly as
-- they were hashed (times as the gateway's ISO strings, the reasons as JSON text), plus the
-- replica that wrote the row, which is not part of the hashed row.

CREATE TABLE audit_replicas (
  replica_id text PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  -- Renewed by the replica's heartbeat. Once it has passed, the replica counts as gone and any
  -- replica may seal its open rows as unknown.
  lease_until timestamptz NOT NULL
);

CREATE TABLE audit_events (
  id text NOT NULL,
  seq bigint,
  started_at text NOT NULL,
  completed_at text,
  -- The gateway's own id for the HTTP request (several rows when one GraphQL request holds
  -- several audited calls); the caller's X-Request-Id is the correlation id.
  request_id text NOT NULL,
  correlation_id text,
  channel text NOT NULL CHECK (channel IN ('graphql', 'rest')),
  principal_iss text NOT NULL,
  principal_sub text NOT NULL,
  caller_address text NOT NULL,
  project_id text NOT NULL,
  instance_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('enable', 'extend', 'show')),
  retention_days integer,
  dry_run boolean NOT NULL,
  decision_allowed boolean NOT NULL,
  decision_rule text,
  decision_reasons text NOT NULL,
  policy_version text NOT NULL,
  outcome text CHECK (outcome IN ('succeeded', 'denied', 'rejected', 'failed', 'unknown')),
  upstream_status integer,
  error_code text,
  duration_ms integer,
  prev_hash text,
  hash text,
  replica_id text,
  PRIMARY KEY (id),
  UNIQUE (seq),
  CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (outcome IS NULL)),
  -- An open row must say whose it is, or no reconcile could tell whether its writer is alive.
  CHECK (seq IS NOT NULL OR replica_id IS NOT NULL)
);
CREATE INDEX audit_events_instance ON audit_events (project_id, instance_id, id);
CREATE INDEX audit_events_request ON audit_events (request_id);
CREATE INDEX audit_events_open ON audit_events (replica_id) WHERE seq IS NULL;

-- Grants alone cannot stop a role that may seal rows from rewriting a sealed one, nor the
-- table's owner from anything: this trigger refuses every change to a sealed row, any change to
-- an open row other than sealing it, and every DELETE and TRUNCATE. Someone who can drop the
-- trigger can still edit rows; that is what the hash chain and `npm run audit:verify` are for.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'audit rows cannot be deleted' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.seq IS NOT NULL THEN
    RAISE EXCEPTION 'sealed audit rows cannot be changed' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF to_jsonb(NEW) - ARRAY['seq', 'completed_at', 'outcome', 'upstream_status', 'error_code',
                           'duration_ms', 'prev_hash', 'hash']
     IS DISTINCT FROM
     to_jsonb(OLD) - ARRAY['seq', 'completed_at', 'outcome', 'upstream_status', 'error_code',
                           'duration_ms', 'prev_hash', 'hash'] THEN
    RAISE EXCEPTION 'only sealing may change an open audit row' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

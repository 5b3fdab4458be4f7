-- Bulk lock jobs and their items (DESIGN §7), beside the audit trail in the same database. Times
-- are the gateway's ISO strings, as in lock_requests. Every move of an item is a compare-and-set
-- (UPDATE ... WHERE state = ... AND holder = ...).

CREATE TABLE bulk_lock_jobs (
  id text PRIMARY KEY,
  state text NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'FINISHED')),
  project_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('enable', 'extend')),
  retention_days integer NOT NULL CHECK (retention_days >= 1),
  dry_run boolean NOT NULL,
  creator_iss text NOT NULL,
  creator_sub text NOT NULL,
  -- The creator's groups as a JSON array: every item is decided on them.
  creator_groups text NOT NULL CHECK (jsonb_typeof(creator_groups::jsonb) = 'array'),
  channel text NOT NULL CHECK (channel IN ('graphql', 'rest')),
  caller_address text NOT NULL,
  request_id text NOT NULL,
  idempotency_key text,
  fingerprint text NOT NULL,
  created_at text NOT NULL CHECK (created_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'),
  -- A creator's idempotency key names one job; jobs without a key never conflict (NULLs differ).
  UNIQUE (creator_iss, creator_sub, idempotency_key)
);
CREATE INDEX bulk_lock_jobs_open ON bulk_lock_jobs (created_at, id) WHERE state <> 'FINISHED';

CREATE TABLE bulk_lock_items (
  job_id text NOT NULL REFERENCES bulk_lock_jobs (id),
  position integer NOT NULL CHECK (position >= 0),
  instance_id text NOT NULL,
  state text NOT NULL CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DENIED',
    'PENDING_APPROVAL', 'SCHEDULED')),
  result text,
  error_code text,
  audit_id text,
  lock_request_id text,
  -- The lock as read just before the item's change was sent: what a settlement compares with.
  lock_before_enabled boolean,
  lock_before_retention_days integer,
  lock_before_ends_at_ms bigint,
  holder text,
  claim_until text CHECK (claim_until ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'),
  slot integer CHECK (slot >= 0),
  PRIMARY KEY (job_id, position),
  UNIQUE (job_id, instance_id),
  CHECK ((state = 'RUNNING') = (holder IS NOT NULL AND claim_until IS NOT NULL AND slot IS NOT NULL))
);
-- A RUNNING item holds one of its job's slots: two replicas never fill one slot, so a job never
-- runs more items at once than it has slots.
CREATE UNIQUE INDEX bulk_lock_items_slots ON bulk_lock_items (job_id, slot) WHERE state = 'RUNNING';
CREATE INDEX bulk_lock_items_open ON bulk_lock_items (job_id, state, position)
  WHERE state IN ('PENDING', 'RUNNING');

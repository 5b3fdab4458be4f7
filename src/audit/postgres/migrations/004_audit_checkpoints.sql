-- Signed checkpoints of the audit chain (DESIGN §8), one row each, never changed or deleted.
-- `position` numbers the checkpoint chain: two writers racing for the same place, one fails.
CREATE TABLE audit_checkpoints (
  position bigint PRIMARY KEY CHECK (position >= 1),
  digest text NOT NULL UNIQUE CHECK (digest ~ '^[0-9a-f]{64}$'),
  seq bigint NOT NULL CHECK (seq >= 0),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  row_count bigint NOT NULL CHECK (row_count >= 0),
  written_at text NOT NULL
    CHECK (written_at ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'),
  prev_checkpoint text UNIQUE CHECK (prev_checkpoint ~ '^[0-9a-f]{64}$'),
  key_id text NOT NULL,
  signature text NOT NULL,
  CHECK ((position = 1) = (prev_checkpoint IS NULL))
);

CREATE FUNCTION audit_checkpoints_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit checkpoints cannot be changed or deleted'
    USING ERRCODE = 'check_violation';
END;
$$;

CREATE TRIGGER audit_checkpoints_write_once
  BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_write_once();

import { Clock } from '../common/clock.js';
import type { AuditStore } from './audit-store.js';
import type { AuditConfig } from './audit.config.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { PostgresCheckpointStore } from './postgres/postgres-checkpoint-store.js';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store.js';
import { PostgresAuditStore } from './postgres/postgres-audit-store.js';
import { ThreadedSqliteAuditStore } from './threaded-sqlite-audit-store.js';

/** The configured store, not yet open: PostgreSQL when AUDIT_DATABASE_URL is set, else SQLite. */
export function createAuditStore(config: AuditConfig, clock = new Clock()): AuditStore {
  if (config.databaseUrl !== null) {
    return new PostgresAuditStore(
      {
        databaseUrl: config.databaseUrl,
        migrate: config.migrate,
        replicaLeaseSeconds: config.replicaLeaseSeconds,
      },
      clock,
    );
  }
  return new ThreadedSqliteAuditStore(config.sqlitePath);
}

/** The checkpoints of the configured store, not yet open: beside its rows. */
export function createCheckpointStore(
  config: Pick<AuditConfig, 'sqlitePath' | 'databaseUrl' | 'migrate'>,
): CheckpointStore {
  if (config.databaseUrl !== null) {
    return new PostgresCheckpointStore({
      databaseUrl: config.databaseUrl,
      migrate: config.migrate,
    });
  }
  return new SqliteCheckpointStore(config.sqlitePath);
}

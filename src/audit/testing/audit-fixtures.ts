import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTANCES, PROJECTS } from '../../simulator/fixtures.js';
import { Clock } from '../../common/clock.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import type { AuditAttempt } from '../audit-record.js';
import type { AuditStore } from '../audit-store.js';
import { AuditTrail } from '../audit-trail.js';
import { ThreadedSqliteAuditStore } from '../threaded-sqlite-audit-store.js';
import { Tracing } from '../../tracing/tracing.js';

/** Test support for the audit specs: attempts, and real SQLite stores in a temp directory. */

export function anAttempt(overrides: Partial<AuditAttempt> = {}): AuditAttempt {
  return {
    requestId: randomUUID(),
    correlationId: null,
    channel: 'rest',
    principalIss: 'https://idp.example.test',
    principalSub: 'alice',
    callerAddress: '127.0.0.1',
    projectId: PROJECTS.cnNorth4.id,
    instanceId: INSTANCES.financeProd.id,
    action: 'enable',
    retentionDays: 30,
    dryRun: false,
    decisionAllowed: true,
    decisionRule: 'finance-prod',
    decisionReasons: [],
    policyVersion: 'sha256:policy',
    ...overrides,
  };
}

/** A trail as AuditModule starts it (open, migrate, reconcile). */
export async function startTrail(
  store: AuditStore,
  metrics = new GatewayMetrics(),
  clock = new Clock(),
): Promise<AuditTrail> {
  const trail = new AuditTrail(store, clock, metrics, new Tracing());
  await trail.onModuleInit();
  return trail;
}

export class AuditStoreDir {
  readonly path = mkdtempSync(join(tmpdir(), 'audit-'));
  private readonly stores: AuditStore[] = [];

  file(name = 'audit.sqlite'): string {
    return join(this.path, name);
  }

  /** A store that has not been opened yet, closed by `cleanup()`. */
  store(sqlitePath = this.file()): ThreadedSqliteAuditStore {
    const store = new ThreadedSqliteAuditStore(sqlitePath);
    this.stores.push(store);
    return store;
  }

  /** A trail as AuditModule starts it, on the store at `sqlitePath`. */
  start(sqlitePath = this.file(), metrics?: GatewayMetrics, clock?: Clock): Promise<AuditTrail> {
    return startTrail(this.store(sqlitePath), metrics, clock);
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.stores.map((store) => store.close()));
    rmSync(this.path, { recursive: true, force: true });
  }
}

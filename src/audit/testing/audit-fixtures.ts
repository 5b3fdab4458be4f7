import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTANCES, PROJECTS } from '../../simulator/fixtures.js';
import { Clock } from '../../common/clock.js';
import { GatewayMetrics } from '../../common/gateway-metrics.js';
import type { AuditAttempt } from '../audit-record.js';
import { SqliteAuditTrail } from '../sqlite-audit-trail.js';

/** Test support for the audit specs: attempts and real SQLite stores in a temp directory. */

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

export class AuditStoreDir {
  readonly path = mkdtempSync(join(tmpdir(), 'audit-'));
  private readonly trails: SqliteAuditTrail[] = [];

  file(name = 'audit.sqlite'): string {
    return join(this.path, name);
  }

  /** A store as AuditModule starts it (open, migrate, reconcile), closed by `cleanup()`. */
  async start(
    sqlitePath = this.file(),
    metrics = new GatewayMetrics(),
    clock = new Clock(),
  ): Promise<SqliteAuditTrail> {
    const trail = this.create(sqlitePath, metrics, clock);
    await trail.onModuleInit();
    return trail;
  }

  /** A store that has not been opened yet. */
  create(
    sqlitePath = this.file(),
    metrics = new GatewayMetrics(),
    clock = new Clock(),
  ): SqliteAuditTrail {
    const trail = new SqliteAuditTrail({ sqlitePath, databaseUrl: null }, clock, metrics);
    this.trails.push(trail);
    return trail;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.trails.map((trail) => trail.close()));
    rmSync(this.path, { recursive: true, force: true });
  }
}

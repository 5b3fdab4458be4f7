import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { validate as isUuid } from 'uuid';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import type { VerifyResult } from './audit-chain.js';
import {
  AUDIT_LIST_MAX_LIMIT,
  type AuditAttempt,
  type AuditCompletion,
  type AuditEvent,
  type AuditFilter,
  type AuditPage,
} from './audit-record.js';
import { AuditTrail } from './audit-trail.js';
import { auditConfig, type AuditConfig } from './audit.config.js';
import type { AuditRequest, AuditWorkerData, AuditWorkerMessage } from './sqlite-audit-worker.js';

type AuditWriteKind = 'attempt' | 'outcome' | 'sealed';

/**
 * How long shutdown waits for open attempts to be sealed. A handler can outlive the HTTP server
 * (its caller went away); an orchestrator's own stop timeout is usually shorter, and a row still
 * open when the process ends is closed as unknown at the next start.
 */
export const OPEN_ATTEMPTS_DRAIN_MS = 30_000;

interface AwaitedAnswer {
  worker: Worker;
  operation: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The writer thread runs compiled JavaScript. Under jest this module is loaded from its
 * TypeScript source, with no .js beside it; the build's copy is used then (jest's global setup
 * builds first).
 */
function workerScript(): URL {
  const beside = new URL('./sqlite-audit-worker.js', import.meta.url);
  if (existsSync(beside)) return beside;
  const built = new URL('../../dist/audit/sqlite-audit-worker.js', import.meta.url);
  if (!existsSync(built)) throw new Error(`audit writer not built: run npm run build (${built})`);
  return built;
}

/**
 * The audit trail in one SQLite file (`SqliteAuditStore`), kept by a worker thread so that the
 * store's fsyncs never stall the event loop. Each promise settles when the worker answers, and
 * the worker answers a write only once its commit is on disk.
 */
@Injectable()
export class SqliteAuditTrail extends AuditTrail implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SqliteAuditTrail.name);
  private worker: Worker | null = null;
  private readonly awaited = new Map<number, AwaitedAnswer>();
  private calls = 0;
  /** Attempts written and not yet sealed through this trail. */
  private readonly openAttempts = new Set<string>();
  private sealedAll: (() => void) | null = null;
  private writerLost = false;

  constructor(
    @Inject(auditConfig.KEY) private readonly config: AuditConfig,
    private readonly clock: Clock,
    private readonly metrics: GatewayMetrics,
  ) {
    super();
  }

  async onModuleInit(): Promise<void> {
    if (this.config.databaseUrl) {
      // Silently writing to SQLite while the operator configured PostgreSQL would scatter the trail.
      throw new Error(
        'AUDIT_DATABASE_URL is set, but this version keeps the audit trail in SQLite only: unset it and use AUDIT_SQLITE_PATH',
      );
    }
    await this.open('readwrite');
    const closed = await this.reconcileOpenAttempts();
    const message = `audit store ${this.config.sqlitePath} open; ${closed} open attempt(s) closed as unknown`;
    if (closed > 0) this.logger.warn(message);
    else this.logger.log(message);
  }

  /**
   * After the HTTP server has closed, not with the other modules before it: the requests still
   * in flight then have sealed their rows.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.openAttemptsSealed(OPEN_ATTEMPTS_DRAIN_MS);
    await this.close();
  }

  /** Resolves once every attempt written through this trail is sealed, or after `timeoutMs`. */
  private openAttemptsSealed(timeoutMs: number): Promise<void> {
    if (this.openAttempts.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn(
          `${this.openAttempts.size} audit attempt(s) still open at shutdown; the next start closes them as unknown`,
        );
        resolve();
      }, timeoutMs);
      this.sealedAll = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Starts the writer thread; rejects with SQLite's own message when the file cannot be opened. */
  async open(mode: AuditWorkerData['mode']): Promise<void> {
    await this.close();
    const workerData: AuditWorkerData = { sqlitePath: this.config.sqlitePath, mode };
    // The writer allocates little and keeps less; V8's default young generation (tens of MB)
    // would only add to the process's RSS. Measured in docs/PERFORMANCE.md, run 5.
    const worker = new Worker(workerScript(), {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    const [first] = (await Promise.race([
      once(worker, 'message'),
      once(worker, 'error').then(([error]) => {
        throw error;
      }),
    ])) as [AuditWorkerMessage];
    if (first.type !== 'opened') {
      await worker.terminate();
      throw new Error(first.type === 'notOpened' ? first.message : 'audit writer did not start');
    }
    worker.on('message', (message: AuditWorkerMessage) => this.receive(message));
    worker.on('error', (error) => this.lost(worker, error));
    // An answer that cannot be read would leave its caller waiting for ever.
    worker.on('messageerror', (error) => this.lost(worker, error));
    worker.on('exit', (code) => this.lost(worker, new Error(`audit writer exited with ${code}`)));
    this.worker = worker;
  }

  /** Commits what is queued, then stops the writer thread. Calls from now on answer 503. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const closed = this.call('close', { op: 'close' });
    this.worker = null;
    await closed.catch(() => undefined);
    await worker.terminate();
    this.failAwaited(worker, 'the audit store is closed');
  }

  async recordAttempt(attempt: AuditAttempt): Promise<string> {
    const id = await this.counted(
      'attempt',
      this.call<string>('attempt write', { op: 'recordAttempt', attempt, at: this.now() }),
    );
    this.openAttempts.add(id);
    return id;
  }

  async complete(id: string, completion: AuditCompletion): Promise<void> {
    try {
      await this.counted(
        'outcome',
        this.call('outcome write', { op: 'complete', id, completion, at: this.now() }),
      );
    } finally {
      // Sealed, or it cannot be now: either way shutdown waits for it no longer.
      this.openAttempts.delete(id);
      if (this.openAttempts.size === 0) this.sealedAll?.();
    }
  }

  recordSealed(attempt: AuditAttempt, completion: AuditCompletion): Promise<string> {
    return this.counted(
      'sealed',
      this.call('sealed write', { op: 'recordSealed', attempt, completion, at: this.now() }),
    );
  }

  reconcileOpenAttempts(): Promise<number> {
    return this.counted(
      'outcome',
      this.call<number>('outcome write', { op: 'reconcileOpenAttempts', at: this.now() }),
      (closed) => closed,
    );
  }

  async list(filter: AuditFilter, limit: number, cursor?: string): Promise<AuditPage> {
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_LIST_MAX_LIMIT) {
      throw GatewayError.validation(
        'limit',
        `must be an integer from 1 to ${AUDIT_LIST_MAX_LIMIT}`,
      );
    }
    const query = {
      projectId: filter.projectId,
      instanceId: filter.instanceId,
      outcome: filter.outcome,
      since: filter.since && isoOf('since', filter.since),
      until: filter.until && isoOf('until', filter.until),
      beforeId: cursor === undefined ? undefined : decodeCursor(cursor),
    };
    const { events, more } = await this.call<{ events: AuditEvent[]; more: boolean }>('list', {
      op: 'list',
      query,
      limit,
    });
    return { events, nextCursor: more ? encodeCursor(events[events.length - 1].id) : null };
  }

  verify(): Promise<VerifyResult> {
    return this.call('verify', { op: 'verify' });
  }

  isAlive(): boolean {
    return !this.writerLost;
  }

  checkWritable(): Promise<void> {
    return this.call('write probe', { op: 'checkWritable', at: this.now() });
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private call<T>(operation: string, request: AuditRequest): Promise<T> {
    const worker = this.worker;
    if (!worker) {
      return Promise.reject(this.unavailable(operation, 'the audit store is not open'));
    }
    return new Promise<T>((resolve, reject) => {
      const call = ++this.calls;
      this.awaited.set(call, {
        worker,
        operation,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      try {
        worker.postMessage({ call, request });
      } catch (error) {
        this.awaited.delete(call);
        reject(this.unavailable(operation, (error as Error).message));
      }
    });
  }

  private receive(message: AuditWorkerMessage): void {
    if (message.type === 'committed') {
      this.metrics.auditCommitBatch.observe(message.writes);
      return;
    }
    if (message.type !== 'answer' && message.type !== 'failed') return;
    const awaited = this.awaited.get(message.call);
    if (!awaited) return;
    this.awaited.delete(message.call);
    if (message.type === 'answer') awaited.resolve(message.value);
    else if (message.refused) awaited.reject(GatewayError.internal(new Error(message.message)));
    else awaited.reject(this.unavailable(awaited.operation, message.message));
  }

  /** The writer thread died: nothing it was asked is known to be durable, and nothing more is asked. */
  private lost(worker: Worker, error: Error): void {
    if (this.worker === worker) {
      this.worker = null;
      this.writerLost = true;
      this.logger.error(`audit writer stopped: ${error.message}; restart the gateway`);
    }
    this.failAwaited(worker, error.message);
  }

  /** Whatever `worker` had not answered fails: no answer is coming. */
  private failAwaited(worker: Worker, reason: string): void {
    for (const [call, awaited] of this.awaited) {
      if (awaited.worker !== worker) continue;
      this.awaited.delete(call);
      awaited.reject(this.unavailable(awaited.operation, reason));
    }
  }

  /** Any store failure becomes GW.AUDIT_UNAVAILABLE; SQLite's message goes to the log only. */
  private unavailable(operation: string, reason: string): GatewayError {
    this.logger.error(`audit ${operation} failed: ${reason}`);
    return new GatewayError(GwCode.AUDIT_UNAVAILABLE, 503, 'audit trail unavailable', {
      cause: new Error(reason),
    });
  }

  private async counted<T>(
    kind: AuditWriteKind,
    write: Promise<T>,
    rowsWritten: (result: T) => number = () => 1,
  ): Promise<T> {
    try {
      const result = await write;
      this.metrics.auditWrites.inc({ kind, result: 'ok' }, rowsWritten(result));
      return result;
    } catch (error) {
      this.metrics.auditWrites.inc({ kind, result: 'error' });
      throw error;
    }
  }
}

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw GatewayError.validation('cursor', 'is not a cursor this trail issued');
  return id;
}

/** Stored times are fixed-width ISO text, so they compare as instants only with years 0-9999. */
function isoOf(field: string, date: Date): string {
  const iso = Number.isNaN(date.getTime()) ? '' : date.toISOString();
  if (!/^\d{4}-/.test(iso)) {
    throw GatewayError.validation(field, 'must be a valid date from year 0000 to 9999');
  }
  return iso;
}

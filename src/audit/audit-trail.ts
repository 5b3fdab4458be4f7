import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { decodeIdCursor, encodeIdCursor } from '../common/id-cursor.js';
import type { VerifyResult } from './audit-chain.js';
import {
  AUDIT_LIST_MAX_LIMIT,
  type AuditAttempt,
  type AuditCompletion,
  type AuditFilter,
  type AuditPage,
} from './audit-record.js';
import { AuditStore, AuditWriteRefused } from './audit-store.js';
import { Tracing } from '../tracing/tracing.js';

/** The attribute of an audit write's span: attempt, outcome or sealed. */
const AUDIT_WRITE_KIND_ATTRIBUTE = 'gateway.audit.write';

type AuditWriteKind = 'attempt' | 'outcome' | 'sealed';

/**
 * How long shutdown waits for open attempts to be sealed. A handler can outlive the HTTP server
 * (its caller went away); an orchestrator's own stop timeout is usually shorter, and a row still
 * open when the process ends is closed as unknown later (at the next start, or by another replica).
 */
export const OPEN_ATTEMPTS_DRAIN_MS = 30_000;

/**
 * The tamper-evident audit trail (DESIGN §3) over whichever AuditStore is configured. Every
 * write is durable when its promise resolves; a store that cannot write makes it reject with
 * GatewayError GW.AUDIT_UNAVAILABLE (503), so no upstream call goes out unrecorded.
 */
@Injectable()
export class AuditTrail implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(AuditTrail.name);
  /** Attempts written and not yet sealed through this trail. */
  private readonly openAttempts = new Set<string>();
  private sealedAll: (() => void) | null = null;

  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
    private readonly metrics: GatewayMetrics,
    private readonly tracing: Tracing,
  ) {
    store.onCommit = (writes) => metrics.auditCommitBatch.observe(writes);
    store.onReconciled = (rows) => metrics.auditSealedLate.inc(rows);
  }

  /** Opens the store for writing and closes the attempts its earlier writers left open. */
  async onModuleInit(): Promise<void> {
    await this.store.open('readwrite');
    const closed = await this.reconcileOpenAttempts();
    const message = `audit store ${this.store.location} open; ${closed} open attempt(s) closed as unknown`;
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

  /** Commits what is queued, then closes the store. Calls from now on answer 503. */
  close(): Promise<void> {
    return this.store.close();
  }

  /** Writes an open row before the upstream call; returns its id. */
  async recordAttempt(attempt: AuditAttempt): Promise<string> {
    const id = await this.counted('attempt', 'attempt write', () =>
      this.store.recordAttempt(this.traced(attempt), this.now()),
    );
    this.openAttempts.add(id);
    this.metrics.auditOpenAttempts.set(this.openAttempts.size);
    return id;
  }

  /** Seals the open row `id` as the next link of the chain. */
  async complete(id: string, completion: AuditCompletion): Promise<void> {
    try {
      await this.counted('outcome', 'outcome write', () =>
        this.store.complete(id, completion, this.now()),
      );
    } finally {
      // Sealed, or it cannot be now: either way shutdown waits for it no longer.
      this.openAttempts.delete(id);
      this.metrics.auditOpenAttempts.set(this.openAttempts.size);
      if (this.openAttempts.size === 0) this.sealedAll?.();
    }
  }

  /** Writes an already sealed row, for decisions that make no upstream call (denied, dry run). */
  recordSealed(attempt: AuditAttempt, completion: AuditCompletion): Promise<string> {
    return this.counted('sealed', 'sealed write', () =>
      this.store.recordSealed(this.traced(attempt), completion, this.now()),
    );
  }

  /** Seals the open rows that no writer will seal (AuditStore.reconcileOpenAttempts). Returns how many. */
  reconcileOpenAttempts(): Promise<number> {
    return this.counted(
      'outcome',
      'outcome write',
      () => this.store.reconcileOpenAttempts(this.now()),
      (closed) => closed,
    );
  }

  /** Newest first. `limit` is 1..500; `cursor` is the opaque `nextCursor` of the previous page. */
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
      lockRequestId: filter.lockRequestId,
      settlesAuditId: filter.settlesAuditId,
      since: filter.since && isoOf('since', filter.since),
      until: filter.until && isoOf('until', filter.until),
      beforeId: cursor === undefined ? undefined : decodeIdCursor(cursor),
    };
    const { events, more } = await this.mapped('list', this.store.list(query, limit));
    return { events, nextCursor: more ? encodeIdCursor(events[events.length - 1].id) : null };
  }

  /** Recomputes the chain and names the first broken row. */
  verify(): Promise<VerifyResult> {
    return this.mapped('verify', this.store.verify());
  }

  /** Readiness: a real write to the store. Rejects when the store cannot be written. */
  checkWritable(): Promise<void> {
    return this.mapped('write probe', this.store.checkWritable(this.now()));
  }

  /**
   * Liveness: false once the store has failed in a way only a restart cures. Every mutation is
   * refused with 503 from then on, so the process should be restarted, not left running.
   */
  isAlive(): boolean {
    return this.store.isAlive();
  }

  /** Resolves once every attempt written through this trail is sealed, or after `timeoutMs`. */
  private openAttemptsSealed(timeoutMs: number): Promise<void> {
    if (this.openAttempts.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn(
          `${this.openAttempts.size} audit attempt(s) still open at shutdown; they are closed as unknown once this process's lease on them ends`,
        );
        resolve();
      }, timeoutMs);
      this.sealedAll = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** The row names the trace of the call that writes it, unless its writer named one. */
  private traced(attempt: AuditAttempt): AuditAttempt {
    return { ...attempt, traceId: attempt.traceId ?? this.tracing.currentTraceId() };
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  /**
   * A refused request is the gateway's own bug (500); any other store failure becomes
   * GW.AUDIT_UNAVAILABLE, with the store's message in the log only.
   */
  private async mapped<T>(operation: string, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      if (error instanceof AuditWriteRefused) throw GatewayError.internal(error);
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.error(`audit ${operation} failed: ${reason}`);
      throw new GatewayError(GwCode.AUDIT_UNAVAILABLE, 503, 'audit trail unavailable', {
        cause: error,
      });
    }
  }

  private counted<T>(
    kind: AuditWriteKind,
    operation: string,
    write: () => Promise<T>,
    rowsWritten: (result: T) => number = () => 1,
  ): Promise<T> {
    return this.tracing.inSpan(
      `audit ${kind}`,
      { [AUDIT_WRITE_KIND_ATTRIBUTE]: kind },
      async () => {
        const stopTimer = this.metrics.auditWriteDuration.startTimer({ kind });
        try {
          const result = await this.mapped(operation, write());
          stopTimer();
          this.metrics.auditWrites.inc({ kind, result: 'ok' }, rowsWritten(result));
          return result;
        } catch (error) {
          this.metrics.auditWrites.inc({ kind, result: 'error' });
          throw error;
        }
      },
    );
  }
}

/** Stored times are fixed-width ISO text, so they compare as instants only with years 0-9999. */
function isoOf(field: string, date: Date): string {
  const iso = Number.isNaN(date.getTime()) ? '' : date.toISOString();
  if (!/^\d{4}-/.test(iso)) {
    throw GatewayError.validation(field, 'must be a valid date from year 0000 to 9999');
  }
  return iso;
}

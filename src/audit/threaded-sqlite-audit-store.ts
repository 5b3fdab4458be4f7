import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Logger } from '@nestjs/common';
import { setOldestOut } from '../common/oldest-out.js';
import type { VerifyResult } from './audit-chain.js';
import type { AuditAttempt, AuditCompletion } from './audit-record.js';
import {
  AuditStore,
  AuditWriteRefused,
  type AuditListing,
  type AuditQuery,
} from './audit-store.js';
import type {
  AuditCall,
  AuditRequest,
  AuditWorkerAnswer,
  AuditWorkerData,
  AuditWorkerStart,
} from './sqlite-audit-worker.js';

/** How often a seal that failed is tried again while the process runs. */
export const RESEAL_INTERVAL_MS = 30_000;
/**
 * Failed seals kept for another try; past this many (a disk that stays full) the oldest is
 * dropped, and its row is closed as `unknown` at the next start.
 */
const RESEALS_KEPT = 10_000;

interface AwaitedAnswer {
  worker: Worker;
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
 * the worker answers a write only once its commit is on disk. Reconciling closes every open row,
 * so one file belongs to one gateway process.
 */
export class ThreadedSqliteAuditStore extends AuditStore {
  private readonly logger = new Logger(ThreadedSqliteAuditStore.name);
  private worker: Worker | null = null;
  private readonly awaited = new Map<number, AwaitedAnswer>();
  private calls = 0;
  /**
   * Asked during this turn of the event loop after its first request (which went at once), sent
   * as one message at its end.
   */
  private outbox: { worker: Worker; calls: AuditCall[] } | null = null;
  private writerLost = false;
  /**
   * Seals that failed (a full disk, a lock held too long) while their rows stayed open: tried
   * again every `resealIntervalMs` with the outcome their call knew, so that a row is not left
   * open, out of the chain and its checkpoints, until the next start closes it as `unknown`.
   */
  private readonly failedSeals = new Map<string, { completion: AuditCompletion; at: string }>();
  private resealTimer: NodeJS.Timeout | null = null;
  private resealing: Promise<void> | null = null;

  constructor(
    private readonly sqlitePath: string,
    private readonly resealIntervalMs = RESEAL_INTERVAL_MS,
  ) {
    super();
  }

  get location(): string {
    return this.sqlitePath;
  }

  /** Starts the writer thread; rejects with SQLite's own message when the file cannot be opened. */
  async open(mode: AuditWorkerData['mode']): Promise<void> {
    await this.close();
    const workerData: AuditWorkerData = { sqlitePath: this.sqlitePath, mode };
    // The writer allocates little and keeps less; V8's default young generation (tens of MB)
    // would only add to the process's RSS (measured; see docs/PERFORMANCE.md).
    const worker = new Worker(workerScript(), {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    const [first] = (await Promise.race([
      once(worker, 'message'),
      once(worker, 'error').then(([error]) => {
        throw error;
      }),
    ])) as [AuditWorkerStart];
    if (first.type !== 'opened') {
      await worker.terminate();
      throw new Error(first.type === 'notOpened' ? first.message : 'audit writer did not start');
    }
    worker.on('message', (answers: AuditWorkerAnswer[]) => answers.forEach((a) => this.receive(a)));
    worker.on('error', (error) => this.lost(worker, error));
    // An answer that cannot be read would leave its caller waiting for ever.
    worker.on('messageerror', (error) => this.lost(worker, error));
    worker.on('exit', (code) => this.lost(worker, new Error(`audit writer exited with ${code}`)));
    this.worker = worker;
    if (mode === 'readwrite') {
      this.resealTimer = setInterval(() => {
        this.resealing ??= this.reseal().finally(() => (this.resealing = null));
      }, this.resealIntervalMs);
      this.resealTimer.unref();
    }
  }

  /** Commits what is queued, then stops the writer thread. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    if (this.resealTimer) clearInterval(this.resealTimer);
    this.resealTimer = null;
    await this.resealing;
    // What is left open now is closed as `unknown` at the next start.
    this.failedSeals.clear();
    const closed = this.call({ op: 'close' });
    this.worker = null;
    await closed.catch(() => undefined);
    await worker.terminate();
    this.failAwaited(worker, 'the audit store is closed');
  }

  recordAttempt(attempt: AuditAttempt, at: string): Promise<string> {
    return this.call({ op: 'recordAttempt', attempt, at });
  }

  complete(id: string, completion: AuditCompletion, at: string): Promise<void> {
    return this.call<void>({ op: 'complete', id, completion, at }).catch((error: unknown) => {
      if (!(error instanceof AuditWriteRefused)) {
        setOldestOut(this.failedSeals, RESEALS_KEPT, id, { completion, at });
      }
      throw error;
    });
  }

  /**
   * Tries the failed seals again, oldest first, until one fails for the same kind of reason
   * (the next round tries again); one the writer refuses (no longer open) is done with too.
   */
  private async reseal(): Promise<void> {
    let sealed = 0;
    for (const [id, { completion, at }] of [...this.failedSeals]) {
      try {
        await this.call({ op: 'complete', id, completion, at });
        sealed += 1;
      } catch (error) {
        if (!(error instanceof AuditWriteRefused)) {
          this.logger.warn(
            `${this.failedSeals.size} audit row(s) still not sealed: ${(error as Error).message}`,
          );
          break;
        }
      }
      this.failedSeals.delete(id);
    }
    if (sealed > 0) {
      this.logger.log(`${sealed} audit row(s) sealed late, with their own call's outcome`);
      this.onReconciled(sealed);
    }
  }

  recordSealed(attempt: AuditAttempt, completion: AuditCompletion, at: string): Promise<string> {
    return this.call({ op: 'recordSealed', attempt, completion, at });
  }

  async reconcileOpenAttempts(at: string): Promise<number> {
    const closed = await this.call<number>({ op: 'reconcileOpenAttempts', at });
    this.onReconciled(closed);
    return closed;
  }

  list(query: AuditQuery, limit: number): Promise<AuditListing> {
    return this.call({ op: 'list', query, limit });
  }

  verify(): Promise<VerifyResult> {
    return this.call({ op: 'verify' });
  }

  checkWritable(at: string): Promise<void> {
    return this.call({ op: 'checkWritable', at });
  }

  isAlive(): boolean {
    return !this.writerLost;
  }

  private call<T>(request: AuditRequest): Promise<T> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('the audit store is not open'));
    return new Promise<T>((resolve, reject) => {
      const call = ++this.calls;
      this.awaited.set(call, { worker, resolve: resolve as (value: unknown) => void, reject });
      if (this.outbox?.worker === worker) {
        this.outbox.calls.push({ call, request });
        return;
      }
      // A writer replaced within one turn still gets what was asked of it first.
      this.send();
      this.outbox = { worker, calls: [] };
      setImmediate(() => this.send());
      this.post(worker, [{ call, request }]);
    });
  }

  private send(): void {
    const outbox = this.outbox;
    if (!outbox) return;
    this.outbox = null;
    if (outbox.calls.length > 0) this.post(outbox.worker, outbox.calls);
  }

  private post(worker: Worker, calls: AuditCall[]): void {
    try {
      worker.postMessage(calls);
    } catch (error) {
      for (const { call } of calls) {
        this.awaited.get(call)?.reject(error);
        this.awaited.delete(call);
      }
    }
  }

  private receive(message: AuditWorkerAnswer): void {
    if (message.type === 'committed') {
      this.onCommit(message.writes);
      return;
    }
    const awaited = this.awaited.get(message.call);
    if (!awaited) return;
    this.awaited.delete(message.call);
    if (message.type === 'answer') awaited.resolve(message.value);
    else if (message.refused) awaited.reject(new AuditWriteRefused(message.message));
    else awaited.reject(new Error(message.message));
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
      awaited.reject(new Error(reason));
    }
  }
}

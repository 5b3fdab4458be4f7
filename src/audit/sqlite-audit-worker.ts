import { parentPort, workerData } from 'node:worker_threads';
import type { AuditAttempt, AuditCompletion } from './audit-record.js';
import { AuditWriteRefused, type AuditQuery } from './audit-store.js';
import { SqliteAuditStore } from './sqlite-audit-store.js';

/**
 * The audit store's own thread. SQLite blocks the thread it runs on until a commit is on disk;
 * here that is this thread, so the gateway's event loop keeps serving requests during the fsync,
 * and the writes that arrive meanwhile share the next commit.
 */

export interface AuditWorkerData {
  sqlitePath: string;
  mode: 'readwrite' | 'readonly';
}

/**
 * Messages cross the thread boundary in batches, both ways: the first request (or answer) of a
 * turn of a thread's event loop goes at once, the rest of that turn together at its end, since
 * each message has a fixed cost in both threads (measured; see docs/PERFORMANCE.md).
 */
export interface AuditCall {
  call: number;
  request: AuditRequest;
}

/** What the gateway asks; times are the gateway clock's, as ISO strings. */
export type AuditRequest =
  | { op: 'recordAttempt'; attempt: AuditAttempt; at: string }
  | { op: 'complete'; id: string; completion: AuditCompletion; at: string }
  | { op: 'recordSealed'; attempt: AuditAttempt; completion: AuditCompletion; at: string }
  | { op: 'reconcileOpenAttempts'; at: string }
  | { op: 'list'; query: AuditQuery; limit: number }
  | { op: 'verify' }
  | { op: 'checkWritable'; at: string }
  | { op: 'close' };

/** The first message, alone; every later one is an array of AuditWorkerAnswer. */
export type AuditWorkerStart = { type: 'opened' } | { type: 'notOpened'; message: string };

export type AuditWorkerAnswer =
  | { type: 'answer'; call: number; value: unknown }
  /** `refused`: the request was wrong (AuditWriteRefused); otherwise the store failed. */
  | { type: 'failed'; call: number; message: string; refused: boolean }
  | { type: 'committed'; writes: number };

if (!parentPort) throw new Error('sqlite-audit-worker runs as a worker thread only');
const port = parentPort;
/** The answers that follow the first of this turn; null while no answer went this turn. */
let outbox: AuditWorkerAnswer[] | null = null;
const post = (message: AuditWorkerAnswer) => {
  if (outbox !== null) {
    outbox.push(message);
    return;
  }
  // The first answer goes at once, so that a lone write waits for nothing; the rest of the
  // turn (the other writes of the same commit) follow together at its end.
  port.postMessage([message]);
  outbox = [];
  setImmediate(() => {
    const rest = outbox ?? [];
    outbox = null;
    if (rest.length > 0) port.postMessage(rest);
  });
};
const start = (message: AuditWorkerStart) => port.postMessage(message);
const { sqlitePath, mode } = workerData as AuditWorkerData;

function answer(store: SqliteAuditStore, request: AuditRequest): unknown {
  switch (request.op) {
    case 'recordAttempt':
      return store.recordAttempt(request.attempt, request.at);
    case 'complete':
      return store.complete(request.id, request.completion, request.at);
    case 'recordSealed':
      return store.recordSealed(request.attempt, request.completion, request.at);
    case 'reconcileOpenAttempts':
      return store.reconcileOpenAttempts(request.at);
    case 'list':
      return store.list(request.query, request.limit);
    case 'verify':
      return store.verify();
    case 'checkWritable':
      return store.checkWritable(request.at);
    case 'close':
      store.close();
      // The writes that close() committed are answered in the microtasks it queued; the answer
      // to close itself goes after them, so the gateway has them all when it stops this thread.
      return new Promise<void>((resolve) => setImmediate(resolve));
  }
}

let store: SqliteAuditStore | undefined;
try {
  store = SqliteAuditStore.open(sqlitePath, mode, (writes) => post({ type: 'committed', writes }));
  start({ type: 'opened' });
} catch (error) {
  start({ type: 'notOpened', message: (error as Error).message });
}

if (store) {
  const opened = store;
  port.on('message', (calls: AuditCall[]) => {
    for (const { call, request } of calls) {
      // Only messages cross the thread boundary: the error's class and stack stay here.
      Promise.resolve()
        .then(() => answer(opened, request))
        .then(
          (value) => post({ type: 'answer', call, value }),
          (error: unknown) =>
            post({
              type: 'failed',
              call,
              message: error instanceof Error ? error.message : String(error),
              refused: error instanceof AuditWriteRefused,
            }),
        );
    }
  });
}

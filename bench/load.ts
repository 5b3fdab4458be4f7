import autocannon from 'autocannon';
import { createHistogram } from 'node:perf_hooks';
import { LOAD_INSTANCES, type FixtureInstance } from '../src/simulator/fixtures.js';
import { SET_LOCK_MUTATION, lockBody } from '../test/support/clients.js';

/** REST PUT, the GraphQL mutation, or REST GET of the lock. */
export type Operation = 'put' | 'graphql' | 'get';

export interface Target {
  /** Origin the load goes to. */
  url: string;
  /** Credentials: the caller's JWT for the gateway and the reference, an IAM token upstream. */
  headers: Record<string, string>;
  lockPath(instance: FixtureInstance, method: 'PUT' | 'GET'): string;
  /** How the target's schema asks for a lock change at `/graphql`; the gateway's when absent. */
  mutation?: GraphqlMutation;
}

/** A GraphQL mutation whose answer holds `"result":"success"` when the lock is set. */
export interface GraphqlMutation {
  query: string;
  variables(change: LockChange): Record<string, unknown>;
}

const GATEWAY_MUTATION: GraphqlMutation = {
  query: SET_LOCK_MUTATION,
  variables: ({ instance, action, days }) => ({
    input: {
      projectId: instance.projectId,
      instanceId: instance.id,
      action: action.toUpperCase(),
      lockRetentionDays: days,
    },
  }),
};

/** The example policy's `maxRetentionDays`: no retention beyond it gets through the gateway. */
const MAX_RETENTION_DAYS = 3650;

/** Successful lock changes one run can make before the retentions run out. */
export const LOCK_CHANGE_CAPACITY = LOAD_INSTANCES.length * MAX_RETENTION_DAYS;

export interface LockChange {
  instance: FixtureInstance;
  action: 'enable' | 'extend';
  days: number;
}

/**
 * Every PUT must succeed, and TaurusDB refuses an extension that does not grow the retention.
 * Requests on different connections overtake each other, so each connection owns its own
 * instances and asks, on each in turn, for one day more than the last time (enable first).
 * The simulator's locks are cleared before each run.
 */
function lockChangesFor(connection: number, connections: number): () => LockChange {
  const owned = LOAD_INSTANCES.filter((_, index) => index % connections === connection);
  const days = new Map<string, number>();
  let turn = 0;
  return () => {
    const instance = owned[turn++ % owned.length];
    const next = (days.get(instance.id) ?? 0) + 1;
    days.set(instance.id, next);
    return { instance, action: next === 1 ? 'enable' : 'extend', days: next };
  };
}

const expectedBody: Record<Operation, (body: string) => boolean> = {
  put: (body) => body.includes('"result":"success"'),
  // GraphQL errors come with HTTP 200, so the body tells.
  graphql: (body) => body.includes('"result":"success"') && !body.includes('"errors"'),
  get: (body) => body.includes('"backup_vaultlock_info"'),
};

function requestFor(
  operation: Operation,
  target: Target,
  connection: number,
  nextChange: () => LockChange,
): autocannon.Request {
  const json = { ...target.headers, 'content-type': 'application/json' };
  if (operation === 'get') {
    const instance = LOAD_INSTANCES[connection];
    return { method: 'GET', path: target.lockPath(instance, 'GET'), headers: target.headers };
  }
  const mutation = target.mutation ?? GATEWAY_MUTATION;
  const build =
    operation === 'put'
      ? ({ instance, action, days }: LockChange) => ({
          method: 'PUT',
          path: target.lockPath(instance, 'PUT'),
          headers: json,
          body: JSON.stringify(lockBody(action, days)),
        })
      : (change: LockChange) => ({
          method: 'POST',
          path: '/graphql',
          headers: json,
          body: JSON.stringify({ query: mutation.query, variables: mutation.variables(change) }),
        });
  return { setupRequest: (request) => ({ ...request, ...build(nextChange()) }) };
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  /** Requests per second over all connections; as fast as answers come when absent. */
  overallRate?: number;
  /** Called for every answer: `ok` is a 2xx with the body the operation should give. */
  onResponse?(ok: boolean): void;
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: { non2xx: number; socket: number; unexpectedBody: number; total: number };
}

/**
 * Drives `operations` in turn on every connection with autocannon. Latencies are kept in
 * microseconds here, because autocannon's own histogram rounds them to whole milliseconds.
 */
export async function runLoad(
  target: Target,
  operations: Operation[],
  options: LoadOptions,
): Promise<LoadResult> {
  if (options.connections > LOAD_INSTANCES.length) {
    throw new Error(`at most ${LOAD_INSTANCES.length} connections: one load instance each`);
  }
  const latencies = createHistogram();
  let unexpectedBody = 0;
  let connection = 0;
  const load = autocannon({
    url: target.url,
    connections: options.connections,
    duration: options.durationSeconds,
    overallRate: options.overallRate,
    setupClient: (client) => {
      const nextChange = lockChangesFor(connection, options.connections);
      client.setRequests(
        operations.map((operation) => ({
          ...requestFor(operation, target, connection, nextChange),
          onResponse: (status, body) => {
            const success = status >= 200 && status < 300;
            const asExpected = success && expectedBody[operation](body);
            if (success && !asExpected) unexpectedBody += 1;
            options.onResponse?.(asExpected);
          },
        })),
      );
      connection += 1;
    },
  });
  load.on('response', (_client, _status, _bytes, responseTimeMs) => {
    latencies.record(Math.max(1, Math.round(responseTimeMs * 1000)));
  });
  const result = await load;
  const errors = {
    non2xx: result.non2xx,
    socket: result.errors,
    unexpectedBody,
    total: result.non2xx + result.errors + unexpectedBody,
  };
  const ms = (micros: number) => micros / 1000;
  return {
    requests: latencies.count,
    durationSeconds: result.duration,
    requestsPerSecond: latencies.count / result.duration,
    latencyMs: {
      p50: ms(latencies.percentile(50)),
      p99: ms(latencies.percentile(99)),
      max: ms(latencies.max),
    },
    errors,
  };
}

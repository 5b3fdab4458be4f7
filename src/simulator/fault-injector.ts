import type { FastifyReply } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { isJsonObject } from './request-input.js';
import { isRouteName, serviceOf, type RouteName } from './route-names.js';
import { SimCode, SimulatorError, errorCodeFor } from './simulator-error.js';

export interface FaultSpec {
  route: RouteName;
  /** Delay before anything else happens; alone, the call then proceeds normally. */
  latencyMs?: number;
  status?: number;
  /** The injected error's `error_code`, sent as given (a forged `GW.*` code included). */
  errorCode?: string;
  /** The injected error's `error_msg`, sent as given (control characters included). */
  errorMessage?: string;
  /** The `error_msg` repeated up to this many characters, for an oversized message. */
  errorMessageBytes?: number;
  /** Sent as `Retry-After`; without a `status` it means a 429. */
  retryAfterSeconds?: number;
  /** Cut the connection (TCP reset) after the status line and part of the body. */
  reset?: boolean;
  /** 200 with a body that is not valid JSON. */
  malformed?: boolean;
  /** 200 with a valid JSON body of at least this many bytes. */
  oversizedBytes?: number;
  /**
   * The JSON answer sent instead of the route's own, with `status` (else 200): a hostile or
   * broken upstream, such as strings no canonical form can hold in a tag value or an `error_msg`.
   */
  body?: unknown;
  /**
   * `taurusdb.instance` only: the real instance details, with these fields replaced (another
   * instance's id, another project, other tags, duplicate keys included).
   */
  describeAs?: InstanceRewrite;
  /** Apply to the next N calls only; unlimited when absent. */
  times?: number;
}

export interface InstanceRewrite {
  id?: string;
  project_id?: string;
  enterprise_project_id?: string;
  tags?: { key: string; value: string }[];
}

/** What a fault does to a call: answers it itself, or lets the route answer and rewrites that. */
export type FaultEffect = 'answered' | ((answer: unknown) => unknown) | undefined;

const MAX_LATENCY_MS = 10 * 60 * 1000;
const MAX_OVERSIZED_BYTES = 256 * 1024 * 1024;

const integerFields = {
  latencyMs: [0, MAX_LATENCY_MS],
  status: [400, 599],
  retryAfterSeconds: [0, 86400],
  oversizedBytes: [1, MAX_OVERSIZED_BYTES],
  errorMessageBytes: [1, MAX_OVERSIZED_BYTES],
  times: [1, Number.MAX_SAFE_INTEGER],
} as const;
const booleanFields = ['reset', 'malformed'] as const;
const effectFields = [
  'latencyMs',
  'status',
  'retryAfterSeconds',
  'reset',
  'malformed',
  'oversizedBytes',
  'body',
  'describeAs',
];
const knownFields = new Set([
  'route',
  'errorCode',
  'body',
  'errorMessage',
  'describeAs',
  ...Object.keys(integerFields),
  ...booleanFields,
]);

function invalid(message: string): SimulatorError {
  return new SimulatorError(400, SimCode.BAD_REQUEST, message);
}

/** Checks a fault posted to the admin API; unknown fields are refused so a typo cannot pass. */
export function parseFaultSpec(body: unknown): FaultSpec {
  if (!isJsonObject(body)) throw invalid('body must be a JSON object');
  const unknown = Object.keys(body).filter((key) => !knownFields.has(key));
  if (unknown.length > 0) throw invalid(`unknown fault fields: ${unknown.join(', ')}`);
  if (!isRouteName(body.route)) throw invalid('route must be one of the simulator route names');
  for (const [field, [min, max]] of Object.entries(integerFields)) {
    const value = body[field];
    if (
      value !== undefined &&
      !(Number.isInteger(value) && (value as number) >= min && (value as number) <= max)
    ) {
      throw invalid(`${field} must be an integer from ${min} to ${max}`);
    }
  }
  for (const field of booleanFields) {
    if (body[field] !== undefined && typeof body[field] !== 'boolean') {
      throw invalid(`${field} must be a boolean`);
    }
  }
  if (
    body.errorCode !== undefined &&
    !(typeof body.errorCode === 'string' && body.errorCode !== '')
  ) {
    throw invalid('errorCode must be a non-empty string');
  }
  if (body.errorMessage !== undefined && typeof body.errorMessage !== 'string') {
    throw invalid('errorMessage must be a string');
  }
  if (body.describeAs !== undefined) {
    if (body.route !== 'taurusdb.instance') {
      throw invalid('describeAs applies to the taurusdb.instance route only');
    }
    checkInstanceRewrite(body.describeAs);
  }
  if (!effectFields.some((field) => body[field] !== undefined && body[field] !== false)) {
    throw invalid(`a fault needs at least one of ${effectFields.join(', ')}`);
  }
  return body as unknown as FaultSpec;
}

const isTag = (tag: unknown): boolean =>
  isJsonObject(tag) &&
  Object.keys(tag).length === 2 &&
  typeof tag.key === 'string' &&
  typeof tag.value === 'string';

function checkInstanceRewrite(rewrite: unknown): void {
  const rule =
    'describeAs must be an object of id, project_id, enterprise_project_id (strings) and tags ([{key, value}])';
  if (!isJsonObject(rewrite)) throw invalid(rule);
  for (const [field, value] of Object.entries(rewrite)) {
    const ok =
      field === 'tags'
        ? Array.isArray(value) && value.every(isTag)
        : ['id', 'project_id', 'enterprise_project_id'].includes(field) &&
          typeof value === 'string';
    if (!ok) throw invalid(rule);
  }
}

interface QueuedFault {
  spec: FaultSpec;
  remaining: number;
}

/**
 * Faults queued per route. The first fault of a route's queue applies to each call until its
 * `times` run out; a fault without `times` stays at the head for good.
 */
export class FaultInjector {
  readonly #queues = new Map<RouteName, QueuedFault[]>();
  /** Aborted on close, so a long injected delay never holds a stopped simulator open. */
  readonly #closing = new AbortController();

  add(spec: FaultSpec): void {
    const queue = this.#queues.get(spec.route) ?? [];
    queue.push({ spec, remaining: spec.times ?? Infinity });
    this.#queues.set(spec.route, queue);
  }

  clear(): void {
    this.#queues.clear();
  }

  close(): void {
    this.#closing.abort();
  }

  /**
   * Applies the route's next fault, if any: `'answered'` when the fault answered the call (or
   * cut it), a rewrite of the route's own answer, or undefined when the route answers as usual.
   */
  async intercept(route: RouteName, reply: FastifyReply): Promise<FaultEffect> {
    const fault = this.#take(route);
    if (fault === undefined) return undefined;
    if (fault.latencyMs) {
      const slept = await sleep(fault.latencyMs, true, { signal: this.#closing.signal }).catch(
        () => false,
      );
      if (!slept) {
        cutMidResponse(reply);
        return 'answered';
      }
    }
    if (fault.reset) {
      cutMidResponse(reply);
      return 'answered';
    }
    const status = fault.status ?? (fault.retryAfterSeconds === undefined ? undefined : 429);
    if (status !== undefined) {
      if (fault.retryAfterSeconds !== undefined) {
        reply.header('retry-after', String(fault.retryAfterSeconds));
      }
      reply.code(status).send(
        fault.body ?? {
          error_code: fault.errorCode ?? errorCodeFor(serviceOf(route), status),
          error_msg: errorMessageOf(fault),
        },
      );
      return 'answered';
    }
    if (fault.body !== undefined) {
      reply.code(200).send(fault.body);
      return 'answered';
    }
    if (fault.malformed) {
      reply.code(200).type('application/json').send('{"result":"success","backup_vaultlock');
      return 'answered';
    }
    if (fault.oversizedBytes !== undefined) {
      const padding = 'x'.repeat(fault.oversizedBytes);
      reply.code(200).type('application/json').send(`{"padding":"${padding}"}`);
      return 'answered';
    }
    const rewrite = fault.describeAs;
    if (rewrite !== undefined) {
      return (answer) => {
        const { instance } = answer as { instance: Record<string, unknown> };
        return { instance: { ...instance, ...rewrite } };
      };
    }
    return undefined;
  }

  #take(route: RouteName): FaultSpec | undefined {
    const queue = this.#queues.get(route);
    const head = queue?.[0];
    if (queue === undefined || head === undefined) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.spec;
  }
}

function errorMessageOf(fault: FaultSpec): string {
  const message = fault.errorMessage ?? 'injected fault';
  const length = fault.errorMessageBytes;
  if (length === undefined) return message;
  const unit = message || 'x';
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

function cutMidResponse(reply: FastifyReply): void {
  reply.hijack();
  const response = reply.raw;
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
  response.write('{"result":"succ', () => response.socket?.resetAndDestroy());
}

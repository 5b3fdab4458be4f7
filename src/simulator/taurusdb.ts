import type { FastifyRequest } from 'fastify';
import { isInstanceId, isProjectId } from '../domain/ids.js';
import { instanceById, instancesOf, projectById, type FixtureInstance } from './fixtures.js';
import type { IamTokenStore } from './iam.js';
import { header, isJsonObject, pick } from './request-input.js';
import { withRegionPrefix, type SimulatedRoute } from './simulated-route.js';
import { DbsCode, SimulatorError } from './simulator-error.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const MIN_RETENTION_DAYS = 1;
const MAX_RETENTION_DAYS = 36500;
const DEFAULT_TAGS_LIMIT = 10;
const MAX_TAGS_LIMIT = 100;
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 100;

interface VaultLock {
  retentionDays: number;
  startMs: number;
  endMs: number;
}

export type VaultLockAction = 'enable' | 'extend';

const parameterError = (message: string) => new SimulatorError(400, DbsCode.PARAMETER, message);

/**
 * Backup vault locks by instance id, with TaurusDB's rules: a lock is never disabled and its
 * retention only grows. The retention always counts from the moment the lock was enabled.
 */
export class VaultLockStore {
  readonly #locks = new Map<string, VaultLock>();

  get(instanceId: string): VaultLock | undefined {
    return this.#locks.get(instanceId);
  }

  apply(instanceId: string, action: VaultLockAction, retentionDays: number): void {
    const current = this.#locks.get(instanceId);
    if (action === 'enable') {
      // Enabling twice is refused rather than read as an extension: a caller who meant to extend
      // must say so, because the change cannot be undone.
      if (current !== undefined) {
        throw new SimulatorError(
          400,
          DbsCode.LOCK_ALREADY_ENABLED,
          'The backup vault lock is already enabled for this instance. Use action extend to lengthen its retention.',
        );
      }
      const startMs = Date.now();
      this.#locks.set(instanceId, {
        retentionDays,
        startMs,
        endMs: startMs + retentionDays * DAY_MS,
      });
      return;
    }
    if (current === undefined) {
      throw new SimulatorError(
        400,
        DbsCode.LOCK_NOT_ENABLED,
        'The backup vault lock is not enabled for this instance, so it cannot be extended.',
      );
    }
    // An extension to the same number of days changes nothing and is refused like a shorter one.
    if (retentionDays <= current.retentionDays) {
      throw parameterError(
        `lock_retention_days can only grow: it is ${current.retentionDays}, so an extension needs more days.`,
      );
    }
    this.#locks.set(instanceId, {
      retentionDays,
      startMs: current.startMs,
      endMs: current.startMs + retentionDays * DAY_MS,
    });
  }

  clear(): void {
    this.#locks.clear();
  }
}

interface LockChange {
  action: VaultLockAction;
  retentionDays: number;
}

function parseLockChange(body: unknown): LockChange {
  if (!isJsonObject(body)) throw parameterError('The request body must be a JSON object.');
  const days = pick(body, 'backup_vaultlock_info', 'lock_retention_days');
  if (
    !Number.isInteger(days) ||
    (days as number) < MIN_RETENTION_DAYS ||
    (days as number) > MAX_RETENTION_DAYS
  ) {
    throw parameterError(
      `lock_retention_days must be an integer from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}.`,
    );
  }
  if (pick(body, 'backup_vaultlock_info', 'lock_policy') !== true) {
    throw parameterError('lock_policy can only be true.');
  }
  const action = typeof body.action === 'string' ? body.action.toLowerCase() : undefined;
  if (action !== 'enable' && action !== 'extend') {
    throw parameterError('action must be enable or extend.');
  }
  return { action, retentionDays: days as number };
}

function parsePage(query: unknown, defaultLimit: number, maxLimit: number) {
  const number = (field: string, fallback: number, min: number, max: number): number => {
    const raw = pick(query, field);
    if (raw === undefined) return fallback;
    const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= min && value <= max)) {
      throw parameterError(`${field} must be an integer from ${min} to ${max}.`);
    }
    return value;
  };
  return {
    offset: number('offset', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: number('limit', defaultLimit, 1, maxLimit),
  };
}

type Tag = FixtureInstance['tags'][number];

/** `tags=key=value,key2=value2`: every pair must be on the instance (AND). */
function parseTagFilter(query: unknown): Tag[] {
  const raw = pick(query, 'tags');
  if (raw === undefined) return [];
  const rule = 'tags must be key=value pairs separated by commas, each key and value non-empty.';
  if (typeof raw !== 'string') throw parameterError(rule);
  return raw.split(',').map((pair) => {
    const equals = pair.indexOf('=');
    if (equals <= 0 || equals === pair.length - 1) throw parameterError(rule);
    return { key: pair.slice(0, equals), value: pair.slice(equals + 1) };
  });
}

const hasTags = (instance: FixtureInstance, wanted: Tag[]): boolean =>
  wanted.every(({ key, value }) =>
    instance.tags.some((tag) => tag.key === key && tag.value === value),
  );

/** The instance as TaurusDB's detail and list calls describe it. */
const describeInstance = (instance: FixtureInstance) => ({
  id: instance.id,
  name: instance.name,
  status: instance.status,
  type: 'Cluster',
  datastore: { type: 'gaussdb-mysql', version: '8.0' },
  port: '3306',
  project_id: instance.projectId,
  region: projectById(instance.projectId)?.region,
  enterprise_project_id: instance.enterpriseProjectId,
  tags: instance.tags,
});

export function taurusDbRoutes(tokens: IamTokenStore, locks: VaultLockStore): SimulatedRoute[] {
  /**
   * The checks every TaurusDB call makes before its own work: a live token, a well-formed
   * project id, a token scoped to the project, the region the endpoint was reached through.
   */
  const resolveProject = (request: FastifyRequest): string => {
    const token = tokens.live(header(request, 'x-auth-token'));
    if (token === undefined) {
      throw new SimulatorError(
        401,
        DbsCode.TOKEN_INVALID,
        'The token is missing, invalid or expired.',
      );
    }
    const { projectId, region } = request.params as Record<string, string | undefined>;
    if (!isProjectId(projectId)) throw parameterError('project_id must be 32 letters or digits.');
    if (token.projectId !== projectId) {
      throw new SimulatorError(
        401,
        DbsCode.TOKEN_INVALID,
        'The token is not scoped to this project.',
      );
    }
    const project = projectById(projectId);
    if (region !== undefined && region !== project?.region) {
      throw new SimulatorError(
        404,
        DbsCode.REGION_MISMATCH,
        `The project does not belong to region ${region}; call the endpoint of region ${project?.region}.`,
      );
    }
    return projectId;
  };

  /** The project's checks, then a well-formed instance id of an instance in that project. */
  const resolveInstance = (request: FastifyRequest): FixtureInstance => {
    const projectId = resolveProject(request);
    const { instanceId } = request.params as Record<string, string | undefined>;
    if (!isInstanceId(instanceId)) {
      throw parameterError('instance_id must be 36 letters or digits ending in in07.');
    }
    const instance = instanceById(instanceId);
    if (instance === undefined || instance.projectId !== projectId) {
      throw new SimulatorError(404, DbsCode.INSTANCE_NOT_FOUND, 'The DB instance does not exist.');
    }
    return instance;
  };

  const lockPath = '/v3/:projectId/instances/:instanceId/backups/vault-lock';
  return [
    {
      method: 'PUT',
      paths: withRegionPrefix(lockPath),
      name: 'taurusdb.putLock',
      handle: async (request) => {
        const instance = resolveInstance(request);
        const change = parseLockChange(request.body);
        locks.apply(instance.id, change.action, change.retentionDays);
        return { result: 'success' };
      },
    },
    {
      method: 'GET',
      paths: withRegionPrefix(lockPath),
      name: 'taurusdb.getLock',
      handle: async (request) => {
        const lock = locks.get(resolveInstance(request).id);
        return {
          backup_vaultlock_info: {
            lock_retention_days: lock?.retentionDays ?? 0,
            lock_policy: lock !== undefined,
            lock_start_time: lock?.startMs ?? null,
            lock_end_time: lock?.endMs ?? null,
          },
        };
      },
    },
    {
      method: 'GET',
      paths: withRegionPrefix('/v3.1/:projectId/instances/:instanceId'),
      name: 'taurusdb.instance',
      handle: async (request) => ({ instance: describeInstance(resolveInstance(request)) }),
    },
    {
      method: 'GET',
      paths: withRegionPrefix('/v3.1/:projectId/instances'),
      name: 'taurusdb.listInstances',
      handle: async (request) => {
        const projectId = resolveProject(request);
        const { offset, limit } = parsePage(request.query, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);
        const wanted = parseTagFilter(request.query);
        const matching = instancesOf(projectId).filter((instance) => hasTags(instance, wanted));
        return {
          instances: matching.slice(offset, offset + limit).map(describeInstance),
          total_count: matching.length,
        };
      },
    },
    {
      method: 'GET',
      paths: withRegionPrefix('/v3/:projectId/instances/:instanceId/tags'),
      name: 'taurusdb.tags',
      handle: async (request) => {
        const instance = resolveInstance(request);
        const { offset, limit } = parsePage(request.query, DEFAULT_TAGS_LIMIT, MAX_TAGS_LIMIT);
        return {
          total_count: instance.tags.length,
          tags: instance.tags.slice(offset, offset + limit),
        };
      },
    },
  ];
}

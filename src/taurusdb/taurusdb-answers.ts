import { isInstanceId } from '../domain/ids.js';
import type {
  InstanceDetails,
  InstancePage,
  InstanceTag,
  SetVaultLockResult,
  VaultLockInfo,
} from './taurusdb.types.js';

/**
 * Checks TaurusDB's 2xx bodies against the documented shape. Each parser answers `undefined` for
 * anything else, which the client reports as a malformed answer rather than passing on a guess.
 */
type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isString = (value: unknown): value is string => typeof value === 'string';

const isNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

const isOptionalNumber = (value: unknown): value is number | null | undefined =>
  value === undefined || value === null || isNumber(value);

const isOptionalBoolean = (value: unknown): value is boolean | null | undefined =>
  value === undefined || value === null || typeof value === 'boolean';

const isTag = (value: unknown): value is InstanceTag =>
  isObject(value) && isString(value.key) && isString(value.value);

export function parseInstanceDetails(body: unknown): InstanceDetails | undefined {
  return isObject(body) ? parseInstance(body.instance) : undefined;
}

/**
 * A page of the list call. Every listed id must be a well-formed instance id, since the gateway
 * builds further calls from them; one that is not makes the whole answer malformed.
 */
export function parseInstancePage(body: unknown): InstancePage | undefined {
  if (!isObject(body) || !Array.isArray(body.instances)) return undefined;
  const totalCount = body.total_count;
  if (!Number.isSafeInteger(totalCount) || (totalCount as number) < 0) return undefined;
  const instances: InstanceDetails[] = [];
  for (const entry of body.instances) {
    const instance = parseInstance(entry);
    if (instance === undefined || !isInstanceId(instance.id)) return undefined;
    instances.push(instance);
  }
  return { instances, totalCount: totalCount as number };
}

function parseInstance(instance: unknown): InstanceDetails | undefined {
  if (!isObject(instance)) return undefined;
  const {
    id,
    project_id: projectId,
    name,
    status,
    enterprise_project_id: enterpriseProjectId,
    tags,
  } = instance;
  if (!isString(id) || !isString(name) || !isString(status) || !isString(enterpriseProjectId)) {
    return undefined;
  }
  if (projectId !== undefined && projectId !== null && !isString(projectId)) return undefined;
  // An instance without tags may omit the list; a list with a bad entry is not guessed at.
  if (tags !== undefined && tags !== null && !(Array.isArray(tags) && tags.every(isTag))) {
    return undefined;
  }
  return {
    id,
    ...(isString(projectId) ? { projectId } : {}),
    name,
    status,
    enterpriseProjectId,
    tags: (tags ?? []).map(({ key, value }: InstanceTag) => ({ key, value })),
  };
}

export function parseVaultLockInfo(body: unknown): VaultLockInfo | undefined {
  if (!isObject(body) || !isObject(body.backup_vaultlock_info)) return undefined;
  const { lock_retention_days, lock_policy, lock_start_time, lock_end_time } =
    body.backup_vaultlock_info;
  if (
    isOptionalNumber(lock_retention_days) &&
    isOptionalBoolean(lock_policy) &&
    isOptionalNumber(lock_start_time) &&
    isOptionalNumber(lock_end_time)
  ) {
    return {
      backup_vaultlock_info: { lock_retention_days, lock_policy, lock_start_time, lock_end_time },
    };
  }
  return undefined;
}

export function parseSetVaultLockResult(body: unknown): SetVaultLockResult | undefined {
  return isObject(body) && isString(body.result) ? { result: body.result } : undefined;
}

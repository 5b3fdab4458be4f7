import { GwCode } from '../../common/gateway-error.js';
import { instancesOf, type FixtureInstance } from '../../simulator/fixtures.js';
import {
  TaurusDb,
  type InstanceRef,
  type LockChange,
  type SendDeadline,
  type TaurusDbCaller,
} from '../taurusdb.js';
import type {
  InstanceDetails,
  InstanceListQuery,
  InstancePage,
  SetVaultLockResult,
  VaultLockInfo,
} from '../taurusdb.types.js';
import { UpstreamError } from '../upstream-error.js';

/**
 * TaurusDB over the simulator's fixtures, in process, for specs of the use cases: locks are kept
 * in memory, and a lock read can be made to fail per instance.
 */
export class FixtureTaurusDb extends TaurusDb {
  readonly locks = new Map<string, LockChange>();
  /** Lock reads of these instances fail with the error given. */
  readonly lockReadFailures = new Map<string, Error>();
  readonly calls = { listInstances: 0, showLock: 0 };

  async instanceDetails(_caller: TaurusDbCaller, ref: InstanceRef): Promise<InstanceDetails> {
    return detailsOf(this.instance(ref));
  }

  async listInstances(
    _caller: TaurusDbCaller,
    projectId: string,
    query: InstanceListQuery,
  ): Promise<InstancePage> {
    this.calls.listInstances += 1;
    const matching = instancesOf(projectId).filter((instance) =>
      query.tags.every(({ key, value }) =>
        instance.tags.some((tag) => tag.key === key && tag.value === value),
      ),
    );
    return {
      instances: matching.slice(query.offset, query.offset + query.limit).map(detailsOf),
      totalCount: matching.length,
    };
  }

  async showLock(_caller: TaurusDbCaller, ref: InstanceRef): Promise<VaultLockInfo> {
    this.calls.showLock += 1;
    const failure = this.lockReadFailures.get(ref.instanceId);
    if (failure) throw failure;
    const lock = this.locks.get(this.instance(ref).id);
    return {
      backup_vaultlock_info: lock
        ? { lock_policy: true, lock_retention_days: lock.retentionDays, lock_start_time: 1 }
        : { lock_policy: false },
    };
  }

  /** Applied at once, with no token to wait for: within any send deadline. */
  async setLock(
    _caller: TaurusDbCaller,
    ref: InstanceRef,
    change: LockChange,
    _deadline?: SendDeadline,
  ): Promise<SetVaultLockResult> {
    this.locks.set(this.instance(ref).id, {
      action: change.action,
      retentionDays: change.retentionDays,
    });
    return { result: 'success' };
  }

  protected instance(ref: InstanceRef): FixtureInstance {
    const found = instancesOf(ref.projectId).find((instance) => instance.id === ref.instanceId);
    if (!found) {
      throw new UpstreamError(GwCode.NOT_FOUND, 404, 'no such instance', {
        upstreamStatus: 404,
        outcomeUncertain: false,
      });
    }
    return found;
  }
}

const detailsOf = (instance: FixtureInstance): InstanceDetails => ({
  id: instance.id,
  projectId: instance.projectId,
  name: instance.name,
  status: instance.status,
  enterpriseProjectId: instance.enterpriseProjectId,
  tags: instance.tags.map((tag) => ({ ...tag })),
});

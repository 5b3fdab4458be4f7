import type { VaultLockAction } from '../domain/actions.js';
/** Shapes of TaurusDB's answers and requests (DESIGN §1), as the gateway uses them. */

export interface InstanceTag {
  key: string;
  value: string;
}

/** The part of `GET /v3.1/{project_id}/instances/{instance_id}` the policy decides on. */
export interface InstanceDetails {
  id: string;
  /** The project TaurusDB says the instance is in, when its answer names one. */
  projectId?: string;
  name: string;
  status: string;
  enterpriseProjectId: string;
  tags: InstanceTag[];
}

/** The upstream list's page size limit (DESIGN §7): `limit` is 1..100. */
export const MAX_LIST_LIMIT = 100;

/** One page of `GET /v3.1/{project_id}/instances`, and the tags every instance must carry. */
export interface InstanceListQuery {
  offset: number;
  /** 1..MAX_LIST_LIMIT */
  limit: number;
  tags: readonly InstanceTag[];
}

export interface InstancePage {
  instances: InstanceDetails[];
  /** Instances matching the tags filter in the whole project, not just this page. */
  totalCount: number;
}

/** `GET .../backups/vault-lock` answer body, passed on to REST callers as it came. */
export interface VaultLockInfo {
  backup_vaultlock_info: {
    lock_retention_days?: number | null;
    /** true = the lock is enabled */
    lock_policy?: boolean | null;
    lock_start_time?: number | null;
    lock_end_time?: number | null;
  };
}

/** `PUT .../backups/vault-lock` request body. */
export interface SetVaultLockBody {
  backup_vaultlock_info: { lock_retention_days: number; lock_policy: true };
  action: VaultLockAction;
}

export interface SetVaultLockResult {
  result: string;
}

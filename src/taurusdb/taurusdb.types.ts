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

/** The lock changes TaurusDB accepts (DESIGN §1); both are irreversible. */
export const VAULT_LOCK_ACTIONS = ['enable', 'extend'] as const;
export type VaultLockAction = (typeof VAULT_LOCK_ACTIONS)[number];

/** Everything a caller can do to a lock, the read (`show`) included: what policy rules name. */
export const ACTIONS = [...VAULT_LOCK_ACTIONS, 'show'] as const;
export type Action = (typeof ACTIONS)[number];

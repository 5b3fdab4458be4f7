import { afterEach, describe, expect, it } from '@jest/globals';
import { vaultLockConfig } from './vault-lock.config.js';

describe('vaultLockConfig', () => {
  const saved = process.env.AUDIT_READS;

  afterEach(() => {
    if (saved === undefined) delete process.env.AUDIT_READS;
    else process.env.AUDIT_READS = saved;
  });

  it('audits denied reads unless told otherwise', () => {
    delete process.env.AUDIT_READS;
    expect(vaultLockConfig()).toEqual({ auditReads: 'denied' });
  });

  it.each(['denied', 'all', 'none'] as const)('accepts AUDIT_READS=%s', (value) => {
    process.env.AUDIT_READS = value;
    expect(vaultLockConfig()).toEqual({ auditReads: value });
  });

  it.each(['ALL', 'allowed', 'true', ' all'])('refuses AUDIT_READS=%j, naming it', (value) => {
    process.env.AUDIT_READS = value;
    expect(() => vaultLockConfig()).toThrow(
      'Invalid configuration:\n  AUDIT_READS: must be one of denied, all, none',
    );
  });
});

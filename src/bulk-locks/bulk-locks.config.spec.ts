import { afterEach, describe, expect, it } from '@jest/globals';
import { bulkLocksConfig } from './bulk-locks.config.js';

describe('bulkLocksConfig', () => {
  const saved = process.env.BULK_CONCURRENCY;

  afterEach(() => {
    if (saved === undefined) delete process.env.BULK_CONCURRENCY;
    else process.env.BULK_CONCURRENCY = saved;
  });

  it('runs 4 items of a job at once unless told otherwise', () => {
    delete process.env.BULK_CONCURRENCY;
    expect(bulkLocksConfig()).toEqual({ concurrency: 4 });
    process.env.BULK_CONCURRENCY = '32';
    expect(bulkLocksConfig()).toEqual({ concurrency: 32 });
  });

  it.each(['0', '33', 'many'])('refuses BULK_CONCURRENCY=%j, naming it', (value) => {
    process.env.BULK_CONCURRENCY = value;
    expect(() => bulkLocksConfig()).toThrow(/Invalid configuration:\n {2}BULK_CONCURRENCY: /);
  });
});

import { afterEach, describe, expect, it } from '@jest/globals';
import { lockRequestsConfig } from './lock-requests.config.js';

describe('lockRequestsConfig', () => {
  const saved = {
    APPROVAL_TTL: process.env.APPROVAL_TTL,
    EXECUTION_WINDOW: process.env.EXECUTION_WINDOW,
    LOCK_REQUEST_POLL_INTERVAL: process.env.LOCK_REQUEST_POLL_INTERVAL,
  };

  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('gives 24h for approvals, 1h to start and a pass every 5s, unless told otherwise', () => {
    delete process.env.APPROVAL_TTL;
    delete process.env.EXECUTION_WINDOW;
    delete process.env.LOCK_REQUEST_POLL_INTERVAL;
    expect(lockRequestsConfig()).toEqual({
      approvalTtlSeconds: 86_400,
      executionWindowSeconds: 3_600,
      pollIntervalSeconds: 5,
    });
  });

  it('reads durations in seconds, minutes, hours and days', () => {
    process.env.APPROVAL_TTL = '3d';
    process.env.EXECUTION_WINDOW = '90s';
    process.env.LOCK_REQUEST_POLL_INTERVAL = '2s';
    expect(lockRequestsConfig()).toEqual({
      approvalTtlSeconds: 259_200,
      executionWindowSeconds: 90,
      pollIntervalSeconds: 2,
    });
    process.env.APPROVAL_TTL = '15m';
    expect(lockRequestsConfig().approvalTtlSeconds).toBe(900);
  });

  it.each([
    ['APPROVAL_TTL', '24'],
    ['APPROVAL_TTL', '0s'],
    ['APPROVAL_TTL', '31d'],
    ['EXECUTION_WINDOW', '1.5h'],
    ['EXECUTION_WINDOW', '1 h'],
    ['EXECUTION_WINDOW', '1H'],
    ['LOCK_REQUEST_POLL_INTERVAL', '0s'],
  ])('refuses %s=%j, naming it and the rule', (name, value) => {
    process.env[name] = value;
    expect(() => lockRequestsConfig()).toThrow(
      `Invalid configuration:\n  ${name}: must be a whole number followed by s, m, h or d (e.g. 90s, 15m, 24h, 3d), from 1s to 30d`,
    );
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  lockBody,
  lockPath,
  rest,
  SET_LOCK_MUTATION,
  SHOW_LOCK_QUERY,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

describe('vault lock end to end', () => {
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await startHarness();
    token = await h.simulator.mintToken({ sub: 'alice', groups: ['dba', 'auditor'] });
  });
  afterAll(() => h.close());
  beforeEach(() => h.simulator.reset());

  describe('over REST', () => {
    const { projectId, id } = INSTANCES.financeProd;
    const path = lockPath(projectId, id);

    it('enables, extends, and shows the lock as TaurusDB does', async () => {
      const enabled = await rest(h, 'PUT', path, { token, body: lockBody('enable', 30) });
      expect(enabled.status).toBe(200);
      expect(enabled.body).toEqual({ result: 'success' });
      expect(enabled.headers.get('x-audit-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(enabled.headers.get('x-request-id')).toBeTruthy();

      const extended = await rest(h, 'PUT', path, { token, body: lockBody('EXTEND', 60) });
      expect(extended.status).toBe(200);

      const shown = await rest(h, 'GET', path, { token });
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({
        backup_vaultlock_info: { lock_retention_days: 60, lock_policy: true },
      });
      expect(h.simulator.calls()['taurusdb.putLock']).toBe(2);
    });

    it('passes the upstream refusal through when extend would shorten the lock', async () => {
      await rest(h, 'PUT', path, { token, body: lockBody('enable', 90) });
      const shorter = await rest(h, 'PUT', path, { token, body: lockBody('extend', 10) });
      expect(shorter.status).toBe(400);
      expect(shorter.body.error_code).toMatch(/^DBS\./);
      expect(shorter.body.request_id).toBe(shorter.headers.get('x-request-id'));
      expect(shorter.headers.get('x-audit-id')).toBeTruthy();
    });

    it('decides and audits a dry run without the upstream PUT', async () => {
      const dry = await rest(h, 'PUT', `${path}?dry_run=true`, {
        token,
        body: lockBody('enable', 30),
      });
      expect(dry.status).toBe(200);
      expect(dry.body).toEqual({ result: 'dry-run' });
      expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
      const shown = await rest(h, 'GET', path, { token });
      expect(shown.body).toMatchObject({ backup_vaultlock_info: { lock_policy: false } });
    });

    it("keeps the caller's sane request id and replaces an unsafe one", async () => {
      const kept = await rest(h, 'GET', path, {
        token,
        headers: { 'x-request-id': 'trace-12345678' },
      });
      expect(kept.headers.get('x-request-id')).toBe('trace-12345678');
      const replaced = await rest(h, 'GET', path, {
        token,
        headers: { 'x-request-id': 'bad id with spaces' },
      });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('over GraphQL', () => {
    const { projectId, id: instanceId } = INSTANCES.apacProd;

    it('enables then extends, answering with the decision and audit id', async () => {
      const enabled = await graphql(
        h,
        SET_LOCK_MUTATION,
        { input: { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 10 } },
        token,
      );
      expect(enabled.errors).toBeUndefined();
      const payload = enabled.data?.setBackupVaultLock as Record<string, unknown>;
      expect(payload).toMatchObject({
        result: 'success',
        decision: { allowed: true, ruleId: 'finance-dba', reasons: [] },
      });
      expect(payload.auditId).toMatch(/^[0-9a-f-]{36}$/);
      expect(payload.requestId).toBe(enabled.headers.get('x-request-id'));

      const extended = await graphql(
        h,
        SET_LOCK_MUTATION,
        { input: { projectId, instanceId, action: 'EXTEND', lockRetentionDays: 20 } },
        token,
      );
      expect(extended.errors).toBeUndefined();

      const shown = await graphql(h, SHOW_LOCK_QUERY, { projectId, instanceId }, token);
      expect(shown.errors).toBeUndefined();
      expect(shown.data?.backupVaultLock).toMatchObject({ enabled: true, retentionDays: 20 });
      const lock = shown.data?.backupVaultLock as { startsAt: string; endsAt: string };
      expect(Date.parse(lock.endsAt) - Date.parse(lock.startsAt)).toBeGreaterThan(0);
    });

    it('reports the upstream refusal with its DBS code when extend would shorten', async () => {
      const input = { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 50 };
      await graphql(h, SET_LOCK_MUTATION, { input }, token);
      const shorter = await graphql(
        h,
        SET_LOCK_MUTATION,
        { input: { ...input, action: 'EXTEND', lockRetentionDays: 5 } },
        token,
      );
      expect(shorter.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(String(shorter.errors?.[0].extensions?.errorCode)).toMatch(/^DBS\./);
      expect(shorter.errors?.[0].extensions?.requestId).toBeTruthy();
    });

    it('answers a dry run with "dry-run" and makes no upstream PUT', async () => {
      const dry = await graphql(
        h,
        SET_LOCK_MUTATION,
        { input: { projectId, instanceId, action: 'ENABLE', lockRetentionDays: 10, dryRun: true } },
        token,
      );
      expect((dry.data?.setBackupVaultLock as { result: string }).result).toBe('dry-run');
      expect(h.simulator.calls()['taurusdb.putLock'] ?? 0).toBe(0);
    });
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { describeWithPostgres, TestDatabase } from '../src/audit/testing/postgres-test-database.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { SERVICE_ACCOUNT } from '../src/simulator/simulator.js';
import { graphql, lockBody, lockPath, rest } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

/**
 * Lock requests end to end, on both channels, through the simulator: made by a mutation whose
 * rule asks for approvals or a cooling-off, then approved, denied or cancelled by people. The
 * PUT itself is background work, so no test here sees TaurusDB's lock change.
 */
const POLICY = {
  version: 1,
  rules: [
    {
      id: 'prod-four-eyes',
      description: 'production locks need two leads and an hour',
      groups: ['dba'],
      projects: ['*'],
      enterpriseProjects: ['*'],
      tags: { env: ['prod'] },
      actions: ['enable', 'extend'],
      maxRetentionDays: 3650,
      approval: { required: 2, approverGroups: ['dba-leads'] },
      coolingOff: '1h',
    },
    {
      id: 'staging-cooling-off',
      description: 'staging locks wait half an hour',
      groups: ['dba'],
      projects: ['*'],
      enterpriseProjects: ['*'],
      tags: { env: ['staging'] },
      actions: ['enable', 'extend'],
      maxRetentionDays: 3650,
      coolingOff: '30m',
    },
  ],
};

const PROD = INSTANCES.financeProd;
const STAGING = INSTANCES.financeStaging;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface RestLockRequest {
  id: string;
  state: string;
  requester: string;
  approvals: { approver: string; decision: string; comment: string | null }[];
  not_before: string | null;
  expires_at: string;
  reason: string | null;
}

const LOCK_REQUEST_FIELDS = `id state projectId instanceId action lockRetentionDays requester
  approvalsRequired approvals { approver decision comment at } notBefore expiresAt createdAt
  updatedAt reason`;

/** Where the gateway keeps requests and its trail, made for one run of the suite. */
interface StoreUnderTest {
  env: Record<string, string>;
  drop(): Promise<void>;
}

function describeLockRequests(storeName: string, makeStore: () => Promise<StoreUnderTest>) {
  describe(`lock requests (${storeName})`, () => {
    let store: StoreUnderTest;
    let h: Harness;
    let alice: string;
    let bob: string;
    let carol: string;
    let dave: string;
    let auditor: string;

    beforeAll(async () => {
      const policyFile = join(mkdtempSync(join(tmpdir(), 'vlg-policy-')), 'policy.json');
      writeFileSync(policyFile, JSON.stringify(POLICY));
      store = await makeStore();
      h = await startHarness({
        ...store.env,
        POLICY_FILE: policyFile,
        // Background execution acts as the service identity, never as the requester.
        IAM_TOKEN_MODE: 'password',
        IAM_DOMAIN_NAME: SERVICE_ACCOUNT.domainName,
        IAM_USER_NAME: SERVICE_ACCOUNT.userName,
        IAM_PASSWORD: SERVICE_ACCOUNT.password,
      });
      alice = await h.simulator.mintToken({ sub: 'alice', groups: ['dba'] });
      bob = await h.simulator.mintToken({ sub: 'bob', groups: ['dba-leads'] });
      carol = await h.simulator.mintToken({ sub: 'carol', groups: ['dba-leads'] });
      dave = await h.simulator.mintToken({ sub: 'dave', groups: ['dba'] });
      auditor = await h.simulator.mintToken({ sub: 'audrey', groups: ['auditor'] });
    });
    afterAll(async () => {
      await h.close();
      await store.drop();
    });
    beforeEach(() => h.simulator.reset());

    const issuer = () => h.simulator.idpIssuer;
    const putLock = (instance = PROD, days = 30, headers: Record<string, string> = {}) =>
      rest(h, 'PUT', lockPath(instance.projectId, instance.id), {
        token: alice,
        body: lockBody('enable', days),
        headers,
      });
    const requestOnRest = async (instance = PROD) => {
      const answer = await putLock(instance);
      expect(answer.status).toBe(202);
      return answer.body.lock_request_id as string;
    };
    const post = (id: string, verb: string, token: string, body: unknown = {}) =>
      rest<RestLockRequest & { error_code?: string; error_msg?: string }>(
        h,
        'POST',
        `/v1/lock-requests/${id}/${verb}`,
        { token, body },
      );

    describe('made by a mutation', () => {
      it('answers 202 on REST with the request, its Location and audit row, and sends no PUT', async () => {
        const answer = await putLock();

        expect(answer.status).toBe(202);
        const id = answer.body.lock_request_id as string;
        expect(id).toMatch(UUID);
        expect(answer.body).toEqual({
          result: 'pending-approval',
          lock_request_id: id,
          state: 'PENDING_APPROVAL',
          not_before: null,
          expires_at: expect.any(String),
          request_id: expect.any(String),
        });
        expect(answer.headers.get('location')).toBe(`/v1/lock-requests/${id}`);
        expect(answer.headers.get('x-audit-id')).toMatch(UUID);
        expect(h.simulator.calls()['taurusdb.putLock']).toBe(0);
        expect(h.simulator.calls()['taurusdb.getLock']).toBe(1);

        const read = await rest<RestLockRequest>(h, 'GET', `/v1/lock-requests/${id}`, {
          token: alice,
        });
        expect(read.status).toBe(200);
        expect(read.body).toMatchObject({
          id,
          state: 'PENDING_APPROVAL',
          project_id: PROD.projectId,
          instance_id: PROD.id,
          action: 'enable',
          lock_retention_days: 30,
          requester: `${issuer()}#alice`,
          approvals_required: 2,
          approvals: [],
        });
      });

      it('answers pending-approval with the lockRequestId on GraphQL', async () => {
        const answer = await graphql(
          h,
          `
            mutation Set($input: SetBackupVaultLockInput!) {
              setBackupVaultLock(input: $input) {
                result
                lockRequestId
                auditId
                decision {
                  allowed
                  ruleId
                  approvalsRequired
                  approverGroups
                  coolingOffSeconds
                }
              }
            }
          `,
          {
            input: {
              projectId: PROD.projectId,
              instanceId: PROD.id,
              action: 'ENABLE',
              lockRetentionDays: 60,
            },
          },
          alice,
        );
        expect(answer.errors).toBeUndefined();
        const payload = answer.data?.setBackupVaultLock as Record<string, unknown>;
        expect(payload).toMatchObject({
          result: 'pending-approval',
          lockRequestId: expect.stringMatching(UUID),
          decision: {
            allowed: true,
            ruleId: 'prod-four-eyes',
            approvalsRequired: 2,
            approverGroups: ['dba-leads'],
            coolingOffSeconds: 3600,
          },
        });
        const read = await graphql(
          h,
          `query One($id: ID!) { lockRequest(id: $id) { ${LOCK_REQUEST_FIELDS} } }`,
          { id: payload.lockRequestId },
          bob,
        );
        expect(read.data?.lockRequest).toMatchObject({
          id: payload.lockRequestId,
          state: 'PENDING_APPROVAL',
          action: 'ENABLE',
          lockRetentionDays: 60,
          requester: `${issuer()}#alice`,
          approvalsRequired: 2,
          notBefore: null,
        });
      });

      it('is scheduled after its cooling-off when the rule asks for no approval', async () => {
        const before = Date.now();
        const answer = await putLock(STAGING);
        expect(answer.status).toBe(202);
        expect(answer.body).toMatchObject({ result: 'scheduled', state: 'SCHEDULED' });
        const notBefore = Date.parse(answer.body.not_before as string);
        expect(notBefore).toBeGreaterThanOrEqual(before + 1_800_000);
        expect(Date.parse(answer.body.expires_at as string)).toBe(notBefore + 3_600_000);
      });

      it('says what would happen on a dry run and makes nothing', async () => {
        const answer = await rest(h, 'PUT', `${lockPath(PROD.projectId, PROD.id)}?dry_run=true`, {
          token: dave,
          body: lockBody('enable', 30),
        });
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual({ result: 'dry-run' });
        const mine = await rest(h, 'GET', '/v1/lock-requests?mine=true', { token: dave });
        expect(mine.body).toEqual({ lock_requests: [], next_cursor: null });
      });

      it('replays the 202 under the same idempotency key, making one request', async () => {
        const key = { 'idempotency-key': `lock-requests-${Date.now()}` };
        const first = await putLock(PROD, 45, key);
        const again = await putLock(PROD, 45, key);

        expect(first.status).toBe(202);
        expect(again.status).toBe(202);
        expect(again.body).toEqual(first.body);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        expect(again.headers.get('x-audit-id')).toBe(first.headers.get('x-audit-id'));
        expect(h.simulator.calls()['taurusdb.getLock']).toBe(1);
      });
    });

    describe('approved, denied and cancelled by people on REST', () => {
      it('takes two distinct leads to schedule it, refusing the requester, others and a second word', async () => {
        const id = await requestOnRest();

        const self = await post(id, 'approve', alice);
        expect(self.status).toBe(403);
        expect(self.body.error_code).toBe('GW.SELF_APPROVAL');
        expect(self.headers.get('x-audit-id')).toMatch(UUID);

        // Someone who may not read it is told it is not there; a reader who is no approver, why not.
        const stranger = await post(id, 'approve', dave);
        expect(stranger.status).toBe(404);
        expect(stranger.body).toMatchObject({
          error_code: 'GW.NOT_FOUND',
          error_msg: `lock request ${id} not found`,
        });
        expect(stranger.headers.get('x-audit-id')).toMatch(UUID);
        const reader = await post(id, 'approve', auditor);
        expect(reader.status).toBe(403);
        expect(reader.body.error_code).toBe('GW.NOT_AN_APPROVER');

        const first = await post(id, 'approve', bob, { comment: 'checked the instance' });
        expect(first.status).toBe(200);
        expect(first.body).toMatchObject({
          state: 'PENDING_APPROVAL',
          approvals: [
            { approver: `${issuer()}#bob`, decision: 'approve', comment: 'checked the instance' },
          ],
        });

        const twice = await post(id, 'approve', bob);
        expect(twice.status).toBe(409);
        expect(twice.body.error_code).toBe('GW.ALREADY_DECIDED');

        const second = await post(id, 'approve', carol);
        expect(second.status).toBe(200);
        expect(second.body.state).toBe('SCHEDULED');
        expect(Date.parse(second.body.not_before ?? '')).toBeGreaterThan(Date.now() + 3_500_000);

        const late = await post(id, 'deny', carol, { comment: 'too late' });
        expect(late.status).toBe(409);
        expect(late.body.error_code).toBe('GW.ALREADY_DECIDED');
        expect(h.simulator.calls()['taurusdb.putLock']).toBe(0);
      });

      it('ends with one deny, and refuses anything on it afterwards as closed', async () => {
        const id = await requestOnRest();
        const denied = await post(id, 'deny', bob, { comment: 'wrong instance' });
        expect(denied.status).toBe(200);
        expect(denied.body).toMatchObject({ state: 'DENIED', reason: 'wrong instance' });

        const closed = await post(id, 'approve', carol);
        expect(closed.status).toBe(409);
        expect(closed.body).toMatchObject({
          error_code: 'GW.REQUEST_CLOSED',
          error_msg: `lock request ${id} is DENIED`,
        });
        const cancel = await post(id, 'cancel', alice);
        expect(cancel.status).toBe(409);
        expect(cancel.body.error_code).toBe('GW.REQUEST_CLOSED');
      });

      it('lets the requester cancel, hides it from a stranger and refuses a reader who is no approver', async () => {
        const id = await requestOnRest(STAGING);
        const stranger = await post(id, 'cancel', dave);
        expect(stranger.status).toBe(404);
        expect(stranger.body.error_code).toBe('GW.NOT_FOUND');
        const reader = await post(id, 'cancel', auditor);
        expect(reader.status).toBe(403);
        expect(reader.body.error_code).toBe('GW.NOT_AN_APPROVER');
        const cancelled = await post(id, 'cancel', alice, { comment: 'wrong days' });
        expect(cancelled.status).toBe(200);
        expect(cancelled.body).toMatchObject({ state: 'CANCELLED', reason: 'wrong days' });
      });

      it('refuses bad ids, comments and fields with the field and the rule', async () => {
        const id = await requestOnRest();
        const cases: [string, string, unknown, string][] = [
          ['not-a-uuid', 'approve', {}, 'id: must be a lock request id (a UUID)'],
          [id, 'deny', {}, 'comment: must say why, in 1 to 1000 characters that are not all blank'],
          [id, 'deny', { comment: '   ' }, 'comment: must say why'],
          [
            id,
            'approve',
            { comment: 'x'.repeat(1001) },
            'comment: must be a string of at most 1000 characters',
          ],
          [id, 'approve', { comment: 5 }, 'comment: must be a string of at most 1000 characters'],
          [id, 'approve', { verdict: 'yes' }, 'verdict'],
        ];
        for (const [target, verb, body, message] of cases) {
          const answer = await post(target, verb, bob, body);
          expect(answer.status).toBe(400);
          expect(answer.body.error_code).toBe('GW.VALIDATION');
          expect(answer.body.error_msg).toContain(message);
        }
        expect((await post(id, 'approve', bob)).body.approvals).toHaveLength(1);
      });

      it('answers 404 for a request nobody made, or one the caller may not read', async () => {
        const id = await requestOnRest();
        const unknown = '0193a000-0000-7000-8000-000000000000';
        for (const [target, token] of [
          [unknown, alice],
          [id, dave],
        ] as const) {
          const answer = await rest(h, 'GET', `/v1/lock-requests/${target}`, { token });
          expect(answer.status).toBe(404);
          expect(answer.body.error_code).toBe('GW.NOT_FOUND');
        }
        const approve = await post(unknown, 'approve', bob);
        expect(approve.status).toBe(404);
        expect(approve.body.error_code).toBe('GW.NOT_FOUND');
      });

      it('lists mine and awaiting my approval, and everything only for auditors', async () => {
        const id = await requestOnRest();
        const ids = async (query: string, token: string) => {
          const answer = await rest<{ lock_requests: RestLockRequest[] }>(
            h,
            'GET',
            `/v1/lock-requests?${query}`,
            { token },
          );
          expect(answer.status).toBe(200);
          return answer.body.lock_requests.map((request) => request.id);
        };
        expect(await ids('mine=true&limit=1', alice)).toEqual([id]);
        expect(await ids('awaiting_my_approval=true', bob)).toContain(id);
        expect(await ids(`awaiting_my_approval=true&instance_id=${PROD.id}`, carol)).toContain(id);
        expect(await ids('awaiting_my_approval=true', dave)).toEqual([]);
        expect(await ids('state=PENDING_APPROVAL', auditor)).toContain(id);

        await post(id, 'approve', bob);
        expect(await ids('awaiting_my_approval=true', bob)).not.toContain(id);

        const everything = await rest(h, 'GET', '/v1/lock-requests', { token: alice });
        expect(everything.status).toBe(403);
        expect(everything.body.error_code).toBe('GW.FORBIDDEN');
        const badState = await rest(h, 'GET', '/v1/lock-requests?mine=true&state=DONE', {
          token: alice,
        });
        expect(badState.status).toBe(400);
        expect(badState.body.error_msg).toMatch(/^state: must be one of PENDING_APPROVAL, /);
      });

      it('writes every transition and every refused attempt to the audit trail, in order', async () => {
        const id = await requestOnRest();
        await post(id, 'approve', alice);
        await post(id, 'approve', bob);
        await post(id, 'approve', carol);
        await post(id, 'cancel', alice, { comment: 'changed plans' });

        const trail = await rest<{ events: Record<string, unknown>[] }>(
          h,
          'GET',
          '/v1/audit-events?limit=50',
          { token: auditor },
        );
        const rows = trail.body.events.filter((row) => row.lock_request_id === id).reverse();
        expect(
          rows.map((row) => [row.action, row.principal_sub, row.outcome, row.error_code]),
        ).toEqual([
          ['request', 'alice', 'succeeded', null],
          ['approve', 'alice', 'denied', 'GW.SELF_APPROVAL'],
          ['approve', 'bob', 'succeeded', null],
          ['approve', 'carol', 'succeeded', null],
          ['cancel', 'alice', 'succeeded', null],
        ]);
        for (const row of rows) {
          expect(row).toMatchObject({
            channel: 'rest',
            project_id: PROD.projectId,
            instance_id: PROD.id,
            retention_days: 30,
            decision_rule: 'prod-four-eyes',
          });
        }
      });
    });

    describe('on GraphQL', () => {
      const APPROVE = `mutation Approve($id: ID!, $comment: String) {
      approveLockRequest(id: $id, comment: $comment) { ${LOCK_REQUEST_FIELDS} } }`;
      const DENY = `mutation Deny($id: ID!, $comment: String!) {
      denyLockRequest(id: $id, comment: $comment) { id state reason } }`;
      const CANCEL = `mutation Cancel($id: ID!, $comment: String) {
      cancelLockRequest(id: $id, comment: $comment) { id state reason } }`;
      const LIST = `query List($filter: LockRequestFilter, $first: Int, $after: String) {
      lockRequests(filter: $filter, first: $first, after: $after) {
        nodes { id state } pageInfo { hasNextPage endCursor } } }`;

      const refusalOf = (answer: Awaited<ReturnType<typeof graphql>>) => ({
        code: answer.errors?.[0]?.extensions?.code,
        errorCode: answer.errors?.[0]?.extensions?.errorCode,
      });

      it('approves to SCHEDULED and refuses each wrong approver with its code', async () => {
        const id = await requestOnRest();
        expect(refusalOf(await graphql(h, APPROVE, { id }, alice))).toEqual({
          code: 'FORBIDDEN',
          errorCode: 'GW.SELF_APPROVAL',
        });
        expect(refusalOf(await graphql(h, APPROVE, { id }, dave))).toEqual({
          code: 'NOT_FOUND',
          errorCode: 'GW.NOT_FOUND',
        });
        expect(refusalOf(await graphql(h, APPROVE, { id }, auditor))).toEqual({
          code: 'FORBIDDEN',
          errorCode: 'GW.NOT_AN_APPROVER',
        });
        const first = await graphql(h, APPROVE, { id, comment: 'ok' }, bob);
        expect(first.data?.approveLockRequest).toMatchObject({
          state: 'PENDING_APPROVAL',
          approvals: [{ approver: `${issuer()}#bob`, decision: 'approve', comment: 'ok' }],
        });
        expect(refusalOf(await graphql(h, APPROVE, { id }, bob))).toEqual({
          code: 'CONFLICT',
          errorCode: 'GW.ALREADY_DECIDED',
        });
        const second = await graphql(h, APPROVE, { id }, carol);
        expect(second.data?.approveLockRequest).toMatchObject({ state: 'SCHEDULED' });
      });

      it('denies with a reason, then refuses as closed; cancels; and answers NOT_FOUND', async () => {
        const denied = await requestOnRest();
        const deny = await graphql(h, DENY, { id: denied, comment: 'no' }, carol);
        expect(deny.data?.denyLockRequest).toEqual({ id: denied, state: 'DENIED', reason: 'no' });
        expect(refusalOf(await graphql(h, APPROVE, { id: denied }, bob))).toEqual({
          code: 'CONFLICT',
          errorCode: 'GW.REQUEST_CLOSED',
        });

        const cancelled = await requestOnRest(STAGING);
        const cancel = await graphql(h, CANCEL, { id: cancelled }, alice);
        expect(cancel.data?.cancelLockRequest).toEqual({
          id: cancelled,
          state: 'CANCELLED',
          reason: null,
        });

        const unknown = '0193a000-0000-7000-8000-000000000000';
        expect(refusalOf(await graphql(h, CANCEL, { id: unknown }, alice))).toEqual({
          code: 'NOT_FOUND',
          errorCode: 'GW.NOT_FOUND',
        });
        const none = await graphql(h, `query { lockRequest(id: "${denied}") { id } }`, {}, dave);
        expect(none.errors).toBeUndefined();
        expect(none.data?.lockRequest).toBeNull();
      });

      it('refuses a bad id and a blank deny comment with the field and the rule', async () => {
        const bad = await graphql(h, APPROVE, { id: 'nope' }, bob);
        expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(bad.errors?.[0]?.message).toContain('id: must be a lock request id (a UUID)');
        const id = await requestOnRest();
        const blank = await graphql(h, DENY, { id, comment: ' ' }, bob);
        expect(blank.errors?.[0]?.message).toContain('comment: must say why');
      });

      it('pages through mine and awaitingMyApproval as a connection', async () => {
        const older = await requestOnRest();
        const newer = await requestOnRest();
        const firstPage = await graphql(h, LIST, { filter: { mine: true }, first: 1 }, alice);
        const page = firstPage.data?.lockRequests as {
          nodes: { id: string }[];
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
        };
        expect(page.nodes.map((node) => node.id)).toEqual([newer]);
        expect(page.pageInfo.hasNextPage).toBe(true);
        const secondPage = await graphql(
          h,
          LIST,
          { filter: { mine: true }, first: 1, after: page.pageInfo.endCursor },
          alice,
        );
        expect(
          (secondPage.data?.lockRequests as { nodes: { id: string }[] }).nodes.map((n) => n.id),
        ).toEqual([older]);

        const awaiting = await graphql(
          h,
          LIST,
          { filter: { awaitingMyApproval: true, state: 'PENDING_APPROVAL' }, first: 50 },
          bob,
        );
        const awaitingIds = (awaiting.data?.lockRequests as { nodes: { id: string }[] }).nodes.map(
          (n) => n.id,
        );
        expect(awaitingIds).toEqual(expect.arrayContaining([newer, older]));
        expect(refusalOf(await graphql(h, LIST, {}, alice))).toEqual({
          code: 'FORBIDDEN',
          errorCode: 'GW.FORBIDDEN',
        });
      });
    });
  });
}

describeLockRequests('SQLite', async () => ({ env: {}, drop: async () => undefined }));

await describeWithPostgres('lock requests (PostgreSQL)', () =>
  describeLockRequests('PostgreSQL', async () => {
    const db = await TestDatabase.create();
    return { env: { AUDIT_DATABASE_URL: db.url }, drop: () => db.drop() };
  }),
);

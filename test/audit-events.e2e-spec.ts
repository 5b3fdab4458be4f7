// Proves: the audit listing's time filters take RFC 3339 date-times only, on both channels, and
// compare them as instants whatever offset they are written in; its lock request filter takes
// UUIDs only and lists the rows of one request with the row a settle settles; anything else is
// refused with 400 / BAD_USER_INPUT naming the field and the rule.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SqliteAuditStore } from '../src/audit/sqlite-audit-store.js';
import { anAttempt } from '../src/audit/testing/audit-fixtures.js';
import { BACKGROUND_PRINCIPAL } from '../src/domain/background-principal.js';
import { INSTANCES } from '../src/simulator/fixtures.js';
import { graphql, lockBody, lockPath, rest } from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const LIST_QUERY = `query List($filter: AuditEventFilter) {
  auditEvents(filter: $filter, first: 500) { nodes { id startedAt } }
}`;

/** The same instant written with another UTC offset (in minutes), as RFC 3339 allows. */
function inOffset(iso: string, minutes: number): string {
  const local = new Date(new Date(iso).getTime() + minutes * 60_000).toISOString().slice(0, -1);
  const abs = Math.abs(minutes);
  const zone = `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${local}${zone}`;
}

describe('audit listing time filters', () => {
  let h: Harness;
  let auditor: string;
  let newest: { id: string; startedAt: string };

  beforeAll(async () => {
    h = await startHarness();
    auditor = await h.simulator.mintToken({ sub: 'tia', groups: ['dba', 'auditor'] });
    const { projectId, id } = INSTANCES.financeProd;
    for (const days of [1, 2]) {
      const put = await rest(h, 'PUT', `${lockPath(projectId, id)}?dry_run=true`, {
        token: auditor,
        body: lockBody('enable', days),
      });
      expect(put.status).toBe(200);
    }
    const listed = await rest<{ events: { id: string; started_at: string }[] }>(
      h,
      'GET',
      '/v1/audit-events',
      { token: auditor },
    );
    newest = { id: listed.body.events[0].id, startedAt: listed.body.events[0].started_at };
  });
  afterAll(() => h.close());

  const refused = [
    '+010000-01-01T00:00:00Z',
    'foo 2001',
    '1',
    '2026-01-31',
    '2026-01-31T12:00:00',
    '2026-02-30T00:00:00Z',
    '2026-01-31 12:00:00Z',
  ];

  it.each(['since', 'until'])(
    'REST refuses a %s that is not an RFC 3339 date-time, naming it and the rule',
    async (field) => {
      for (const value of refused) {
        const answer = await rest(
          h,
          'GET',
          `/v1/audit-events?${field}=${encodeURIComponent(value)}`,
          { token: auditor },
        );
        expect({ value, status: answer.status, body: answer.body }).toEqual({
          value,
          status: 400,
          body: {
            error_code: 'GW.VALIDATION',
            error_msg: expect.stringContaining(`${field}: must be an RFC 3339 date-time`),
            request_id: answer.headers.get('x-request-id'),
          },
        });
      }
    },
  );

  it.each(['since', 'until'])(
    'GraphQL refuses a %s that is not an RFC 3339 date-time, in variables and in literals',
    async (field) => {
      for (const value of refused) {
        const inVariables = await graphql(h, LIST_QUERY, { filter: { [field]: value } }, auditor);
        const inLiteral = await graphql(
          h,
          `{ auditEvents(filter: { ${field}: ${JSON.stringify(value)} }) { nodes { id } } }`,
          {},
          auditor,
        );
        for (const answer of [inVariables, inLiteral]) {
          expect({ value, status: answer.status, data: answer.data }).toEqual({
            value,
            status: 400,
            data: undefined,
          });
          expect(answer.errors?.[0].message).toContain('RFC 3339');
          expect(answer.errors?.[0].extensions).toMatchObject({
            code: 'BAD_USER_INPUT',
            errorCode: 'GW.VALIDATION',
            requestId: expect.any(String),
          });
        }
        expect(inVariables.errors?.[0].message).toContain(`filter.${field}`);
      }
    },
  );

  it('compares the bounds as instants, whatever offset they are written in', async () => {
    const ids = async (filter: Record<string, string>) => {
      const query = new URLSearchParams(
        Object.entries(filter).map(([k, v]) => [k, v] as [string, string]),
      );
      const viaRest = await rest<{ events: { id: string }[] }>(
        h,
        'GET',
        `/v1/audit-events?${query.toString()}`,
        { token: auditor },
      );
      expect(viaRest.status).toBe(200);
      const viaGraphql = await graphql(h, LIST_QUERY, { filter }, auditor);
      expect(viaGraphql.errors).toBeUndefined();
      const nodes = (viaGraphql.data?.auditEvents as { nodes: { id: string }[] }).nodes;
      const restIds = viaRest.body.events.map((e) => e.id);
      expect(nodes.map((n) => n.id)).toEqual(restIds);
      return restIds;
    };
    const justAfter = new Date(new Date(newest.startedAt).getTime() + 1).toISOString();
    for (const offset of [0, 330, -480, 14 * 60, -(23 * 60 + 59)]) {
      const at = inOffset(newest.startedAt, offset);
      expect(await ids({ since: at })).toContain(newest.id);
      expect(await ids({ until: at })).not.toContain(newest.id);
      expect(await ids({ since: inOffset(justAfter, offset) })).not.toContain(newest.id);
      expect(await ids({ until: inOffset(justAfter, offset) })).toContain(newest.id);
    }
    // Far in the future is an empty page, not every row.
    expect(await ids({ since: '9999-12-31T23:59:59.999Z' })).toEqual([]);
    expect(await ids({ until: '0000-01-01T00:00:00Z' })).toEqual([]);
  });

  it('writes the stored start time through the DateTime scalar', async () => {
    const answer = await graphql(h, LIST_QUERY, {}, auditor);
    expect(answer.errors).toBeUndefined();
    const nodes = (answer.data?.auditEvents as { nodes: { id: string; startedAt: string }[] })
      .nodes;
    expect(nodes.find((n) => n.id === newest.id)?.startedAt).toBe(newest.startedAt);
  });

  it('refuses a lock request id that is not a UUID on both channels, naming the field and the rule', async () => {
    for (const value of [
      '1',
      'not-a-uuid',
      '019ad1e2-7c3b-7a10-8f2e-5b6c7d8e9f0',
      `${randomUUID()}x`,
    ]) {
      const viaRest = await rest(
        h,
        'GET',
        `/v1/audit-events?lock_request_id=${encodeURIComponent(value)}`,
        { token: auditor },
      );
      expect({ value, status: viaRest.status, body: viaRest.body }).toEqual({
        value,
        status: 400,
        body: {
          error_code: 'GW.VALIDATION',
          error_msg: expect.stringContaining('lock_request_id: must be a lock request id (a UUID)'),
          request_id: viaRest.headers.get('x-request-id'),
        },
      });
      const viaGraphql = await graphql(
        h,
        LIST_QUERY,
        { filter: { lockRequestId: value } },
        auditor,
      );
      // A resolver's argument refused: an execution error, so 200 with no data (GraphQL over HTTP).
      expect({ value, data: viaGraphql.data }).toEqual({ value, data: null });
      expect(viaGraphql.errors?.[0].message).toContain(
        'filter.lockRequestId: must be a lock request id (a UUID)',
      );
      expect(viaGraphql.errors?.[0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        errorCode: 'GW.VALIDATION',
      });
    }
  });

  it('lists the rows of one lock request on both channels, a settle row naming the row it settles', async () => {
    const lockRequestId = randomUUID();
    const background = anAttempt({
      channel: 'scheduler',
      principalIss: BACKGROUND_PRINCIPAL.issuer,
      principalSub: BACKGROUND_PRINCIPAL.subject,
      callerAddress: BACKGROUND_PRINCIPAL.callerAddress,
      lockRequestId,
    });
    // Rows as background work writes them, by a second writer on the gateway's own file.
    const writer = SqliteAuditStore.open(h.auditPath, 'readwrite');
    let unknown: string;
    let settle: string;
    try {
      const at = new Date().toISOString();
      unknown = await writer.recordSealed(
        { ...background, action: 'execute' },
        { outcome: 'unknown', durationMs: 7 },
        at,
      );
      settle = await writer.recordSealed(
        { ...background, action: 'settle', settlesAuditId: unknown },
        { outcome: 'succeeded', durationMs: 3 },
        at,
      );
    } finally {
      writer.close();
    }

    const viaRest = await rest<{ events: Record<string, unknown>[] }>(
      h,
      'GET',
      `/v1/audit-events?lock_request_id=${lockRequestId}`,
      { token: auditor },
    );
    expect(viaRest.status).toBe(200);
    expect(viaRest.body.events).toEqual([
      expect.objectContaining({
        id: settle,
        action: 'settle',
        channel: 'scheduler',
        principal_iss: 'vault-lock-gateway',
        principal_sub: 'scheduler',
        caller_address: '-',
        lock_request_id: lockRequestId,
        settles_audit_id: unknown,
      }),
      expect.objectContaining({
        id: unknown,
        action: 'execute',
        outcome: 'unknown',
        lock_request_id: lockRequestId,
        settles_audit_id: null,
      }),
    ]);

    const viaGraphql = await graphql(
      h,
      `
        query History($filter: AuditEventFilter) {
          auditEvents(filter: $filter) {
            nodes {
              id
              action
              channel
              lockRequestId
              settlesAuditId
            }
          }
        }
      `,
      { filter: { lockRequestId } },
      auditor,
    );
    expect(viaGraphql.errors).toBeUndefined();
    expect(viaGraphql.data?.auditEvents).toEqual({
      nodes: [
        {
          id: settle,
          action: 'settle',
          channel: 'scheduler',
          lockRequestId,
          settlesAuditId: unknown,
        },
        {
          id: unknown,
          action: 'execute',
          channel: 'scheduler',
          lockRequestId,
          settlesAuditId: null,
        },
      ],
    });

    const single = await rest<{ events: Record<string, unknown>[] }>(
      h,
      'GET',
      `/v1/audit-events?instance_id=${INSTANCES.financeProd.id}`,
      { token: auditor },
    );
    const call = single.body.events.find((event) => event.id === newest.id);
    expect(call).toMatchObject({ lock_request_id: null, settles_audit_id: null });
  });
});

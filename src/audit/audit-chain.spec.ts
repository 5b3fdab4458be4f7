import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  canonicalRow,
  computeHash,
  GENESIS_HASH,
  openEvent,
  sealRow,
  verifyChain,
  type ChainHead,
} from './audit-chain.js';
import { AUDIT_COLUMN_TABLE, AUDIT_COLUMNS, type AuditEvent } from './audit-record.js';
import { anAttempt } from './testing/audit-fixtures.js';

const numberedOpenEvent = (n: number): AuditEvent =>
  openEvent(
    anAttempt({ requestId: `req-${n}` }),
    `0190a000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    new Date(Date.UTC(2025, 0, 1, 0, 0, n)).toISOString(),
  );

function chainOf(length: number): AuditEvent[] {
  const rows: AuditEvent[] = [];
  let head: ChainHead | null = null;
  for (let n = 1; n <= length; n += 1) {
    const row = sealRow(
      numberedOpenEvent(n),
      head,
      { outcome: 'succeeded', upstreamStatus: 200, durationMs: 12.4 },
      new Date(Date.UTC(2025, 0, 1, 0, 1, n)).toISOString(),
    );
    rows.push(row);
    head = { seq: row.seq as number, hash: row.hash as string };
  }
  return rows;
}

describe('audit chain', () => {
  it('hashes prev_hash followed by the RFC 8785 JSON of every column but hash', () => {
    const [row] = chainOf(1);
    const json = canonicalRow(row);
    const parsed = JSON.parse(json) as Record<string, unknown>;

    // Columns that came later are hashed only when set (see the test below).
    expect(Object.keys(parsed)).toEqual(
      Object.values(AUDIT_COLUMN_TABLE)
        .filter((column) => column.hashed && !column.hashedOnlyWhenSet)
        .map((column) => column.name)
        .sort(),
    );
    expect(parsed).toMatchObject({ seq: 1, prev_hash: GENESIS_HASH, dry_run: false });
    expect(parsed.decision_reasons).toEqual([]);
    expect(row.hash).toBe(
      createHash('sha256')
        .update(GENESIS_HASH + json)
        .digest('hex'),
    );
  });

  it.each([
    ['correlationId', 'correlation_id', 'caller-trace-1'],
    ['lockRequestId', 'lock_request_id', '019ad1e2-7c3b-7a10-8f2e-5b6c7d8e9f01'],
    ['settlesAuditId', 'settles_audit_id', '0190a000-0000-7000-8000-000000000009'],
  ] as const)(
    'hashes %s only when set, so rows written before it existed still verify',
    (field, column, value) => {
      const [row] = chainOf(1);
      const before: Partial<AuditEvent> = { ...row };
      delete before[field];
      expect(computeHash(GENESIS_HASH, before as AuditEvent)).toBe(row.hash);

      const set = sealRow(
        openEvent(anAttempt({ [field]: value }), row.id, row.startedAt),
        null,
        { outcome: 'succeeded', durationMs: 1 },
        row.startedAt,
      );
      expect(JSON.parse(canonicalRow(set))).toMatchObject({ [column]: value });
      expect(verifyChain([{ ...set, [field]: null }])).toMatchObject({ ok: false });
      expect(verifyChain([set])).toEqual({ ok: true, rows: 1 });
    },
  );

  it('stores lone surrogates as U+FFFD, so that every row has a canonical form', () => {
    const open = openEvent(
      anAttempt({ principalSub: 'alice\ud800', decisionReasons: ['tag env is pr\udc00od'] }),
      '0190a000-0000-7000-8000-000000000001',
      new Date(0).toISOString(),
    );
    expect(open.principalSub).toBe('alice\ufffd');
    expect(open.decisionReasons).toEqual(['tag env is pr\ufffdod']);
    const sealed = sealRow(open, null, { outcome: 'denied', durationMs: 1 }, open.startedAt);
    expect(verifyChain([sealed])).toEqual({ ok: true, rows: 1 });
  });

  it('seals the first row on the genesis hash and each next row on its predecessor', () => {
    const rows = chainOf(3);

    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows[0].prevHash).toBe(GENESIS_HASH);
    expect(rows[1].prevHash).toBe(rows[0].hash);
    expect(rows[2].prevHash).toBe(rows[1].hash);
    expect(rows[0].durationMs).toBe(12);
    expect(verifyChain(rows)).toEqual({ ok: true, rows: 3 });
  });

  it('does not depend on the order of the fields it is given', () => {
    const [row] = chainOf(1);
    const reversed = Object.fromEntries(Object.entries(row).reverse()) as AuditEvent;

    expect(computeHash(GENESIS_HASH, reversed)).toBe(row.hash);
  });

  it('names the first row whose contents changed, whichever column it is', () => {
    const hashed = Object.keys(AUDIT_COLUMNS).filter(
      (f) => !['hash', 'prevHash', 'seq'].includes(f),
    ) as (keyof AuditEvent)[];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(...hashed),
        fc.string({ minLength: 1, maxLength: 8 }),
        (index, field, junk) => {
          const rows = chainOf(5);
          const original = rows[index][field];
          const changed =
            typeof original === 'boolean'
              ? !original
              : typeof original === 'number'
                ? original + 1
                : Array.isArray(original)
                  ? [...original, junk]
                  : `${String(original)}${junk}`;
          rows[index] = { ...rows[index], [field]: changed };

          expect(verifyChain(rows)).toEqual({
            ok: false,
            rows: index,
            firstBroken: {
              seq: index + 1,
              id: rows[index].id,
              reason: 'hash does not match the row contents',
            },
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('reports a missing row as a gap in seq', () => {
    const rows = chainOf(4);
    rows.splice(1, 1);

    expect(verifyChain(rows)).toEqual({
      ok: false,
      rows: 1,
      firstBroken: {
        seq: 3,
        id: rows[1].id,
        reason: 'expected seq 2, found 3: a sealed row is missing',
      },
    });
  });

  it('reports a row sealed on the wrong predecessor', () => {
    const rows = chainOf(3);
    rows[2] = { ...rows[2], prevHash: rows[0].hash };

    const result = verifyChain(rows);

    expect(result).toMatchObject({
      ok: false,
      rows: 2,
      firstBroken: { seq: 3, reason: 'prev_hash does not match the hash of seq 2' },
    });
  });

  it('reports a first row that does not start from the genesis hash', () => {
    const rows = chainOf(2);
    rows[0] = { ...rows[0], prevHash: 'f'.repeat(64) };

    expect(verifyChain(rows)).toMatchObject({
      ok: false,
      rows: 0,
      firstBroken: { seq: 1, reason: 'prev_hash of the first row is not the genesis hash' },
    });
  });

  it('accepts an empty chain', () => {
    expect(verifyChain([])).toEqual({ ok: true, rows: 0 });
  });
});

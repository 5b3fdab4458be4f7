import { generateKeyPairSync } from 'node:crypto';
import type { ChainHead } from './audit-chain.js';
import {
  checkpointFileJson,
  checkpointFileName,
  keyIdOf,
  nextCheckpoint,
  type SignedCheckpoint,
} from './audit-checkpoint.js';
import type { StoredCheckpoint } from './checkpoint-store.js';
import {
  checkCheckpointedRows,
  checkCheckpointFiles,
  describeFailure,
  type CheckpointEvidence,
} from './checkpoint-verifier.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const hashOf = (seq: number) => seq.toString(16).padStart(64, '0');
const at = (minutes: number) => new Date(Date.UTC(2026, 10, 30, 3, minutes)).toISOString();

/** Three checkpoints, one every 10 minutes, over heads at seq 2, 5 and 9. */
function trail(): StoredCheckpoint[] {
  const stored: StoredCheckpoint[] = [];
  [2, 5, 9].forEach((seq, n) => {
    const head: ChainHead = { seq, hash: hashOf(seq) };
    const checkpoint = nextCheckpoint(head, stored[n - 1] ?? null, at(10 * n), privateKey);
    stored.push({ ...checkpoint, position: n + 1 });
  });
  return stored;
}

function evidence(stored: StoredCheckpoint[], files?: SignedCheckpoint[]): CheckpointEvidence {
  return {
    files: new Map(
      (files ?? stored).map((c) => [checkpointFileName(c), checkpointFileJson(c)] as const),
    ),
    stored,
    publicKey,
    keyId: keyIdOf(publicKey),
    intervalSeconds: 600,
    now: new Date(at(25)),
  };
}

const chainOf = (headSeq: number, changed: number[] = []) => ({
  head: { seq: headSeq, hash: hashOf(headSeq) },
  hashes: new Map(
    [2, 5, 9]
      .filter((seq) => seq <= headSeq)
      .map((seq) => [seq, changed.includes(seq) ? 'f'.repeat(64) : hashOf(seq)] as const),
  ),
});

function kinds(ev: CheckpointEvidence, chain = chainOf(9)) {
  const { failures, signed } = checkCheckpointFiles(ev);
  return [...failures, ...checkCheckpointedRows(signed, chain)].map(describeFailure);
}

describe('checking checkpoints', () => {
  it('finds nothing wrong with an intact trail', () => {
    expect(kinds(evidence(trail()))).toEqual([]);
  });

  it('names a cut tail at every checkpoint beyond the end', () => {
    const stored = trail();
    expect(kinds(evidence(stored), chainOf(4))).toEqual([
      `tail-cut: ${checkpointFileName(stored[1])} seq 5: it signed the chain up to seq 5, the trail now ends at seq 4: row 5 was cut off`,
      `tail-cut: ${checkpointFileName(stored[2])} seq 9: it signed the chain up to seq 9, the trail now ends at seq 4: rows 5–9 were cut off`,
    ]);
  });

  it('names a recomputed chain at the first checkpoint that disagrees, and where the change is', () => {
    const stored = trail();
    expect(kinds(evidence(stored), chainOf(9, [5, 9]))[0]).toBe(
      `hash-mismatch: ${checkpointFileName(stored[1])} seq 5: row seq 5 does not have the hash it was signed with: a row in seq 3–5 was changed and the chain recomputed`,
    );
  });

  it('names the file of a checkpoint the store holds and the directory lost', () => {
    const stored = trail();
    expect(kinds(evidence(stored, [stored[0], stored[2]]))).toEqual([
      `missing-checkpoint-file: ${checkpointFileName(stored[1])} seq 5: the store holds checkpoint 2 (seq 5, ${at(10)}) but its file is gone`,
    ]);
  });

  it('names a checkpoint signed by another key, whatever keyId it claims', () => {
    const stored = trail();
    const other = generateKeyPairSync('ed25519');
    const forged = {
      ...nextCheckpoint({ seq: 9, hash: hashOf(9) }, stored[2], at(20), other.privateKey),
      keyId: keyIdOf(publicKey),
    };
    expect(kinds(evidence(stored, [...stored, forged]))).toEqual([
      `bad-signature: ${checkpointFileName(forged)} seq 9: the signature does not verify with the public key`,
    ]);
  });

  it('names a file whose prevCheckpoint does not name the one before, and one that is no checkpoint', () => {
    const stored = trail();
    const stray = nextCheckpoint({ seq: 9, hash: hashOf(9) }, stored[0], at(21), privateKey);
    const ev = evidence(stored, [...stored, stray]);
    (ev.files as Map<string, string>).set('notes.json', '{"hello":1}');
    expect(kinds(ev)).toEqual([
      'unreadable-checkpoint-file: notes.json: not a checkpoint: seq, hash, rows, time, prevCheckpoint, keyId, signature missing or malformed',
      `broken-checkpoint-chain: ${checkpointFileName(stray)}: prevCheckpoint does not name ${checkpointFileName(stored[2])}, the checkpoint before it`,
    ]);
  });

  it('follows the links, not the clocks, of checkpoints written a moment apart by replicas whose clocks disagree', () => {
    const stored = trail();
    const stamped = (ms: number) => new Date(Date.parse(at(20)) + ms).toISOString();
    // Replicas stopping together: the second checkpoint's clock is 2 ms behind the first's.
    const first = nextCheckpoint({ seq: 9, hash: hashOf(9) }, stored[2], stamped(5), privateKey);
    const second = nextCheckpoint({ seq: 9, hash: hashOf(9) }, first, stamped(3), privateKey);
    const third = nextCheckpoint({ seq: 9, hash: hashOf(9) }, second, stamped(3), privateKey);
    const all = [...stored, ...[first, second, third].map((c, n) => ({ ...c, position: 4 + n }))];
    expect(kinds(evidence(all))).toEqual([]);
    const { signed } = checkCheckpointFiles(evidence(all));
    expect(signed.map((each) => each.checkpoint.signature)).toEqual(
      all.map((each) => each.signature),
    );
  });

  it('names a gap longer than two intervals, between two checkpoints and up to now', () => {
    const stored = trail();
    const ev = { ...evidence(stored), intervalSeconds: 240, now: new Date(at(40)) };
    expect(kinds(ev)).toEqual([
      `gap: ${checkpointFileName(stored[0])} seq 2: no checkpoint for 600 s after it, until ${checkpointFileName(stored[1])} (more than two intervals of 240 s)`,
      `gap: ${checkpointFileName(stored[1])} seq 5: no checkpoint for 600 s after it, until ${checkpointFileName(stored[2])} (more than two intervals of 240 s)`,
      `gap: ${checkpointFileName(stored[2])} seq 9: it is the newest checkpoint and 1200 s old (more than two intervals of 240 s): checkpoints stopped`,
    ]);
  });

  it('calls a directory without a checkpoint of this key a gap', () => {
    expect(kinds(evidence([], []), chainOf(0))).toEqual([
      'gap: -: the checkpoint directory holds no checkpoint signed with the given key',
    ]);
  });
});

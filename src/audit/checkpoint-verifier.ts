import type { KeyObject } from 'node:crypto';
import { GENESIS_HASH } from './audit-chain.js';
import {
  checkpointDigest,
  checkpointFileName,
  hasValidSignature,
  parseCheckpointFile,
  type SignedCheckpoint,
} from './audit-checkpoint.js';
import type { ChainHashes, StoredCheckpoint } from './checkpoint-store.js';

/** What can be wrong with the checkpoints of a trail, each named in the verdict. */
export type CheckpointFailureKind =
  | 'unreadable-checkpoint-file'
  | 'bad-signature'
  | 'broken-checkpoint-chain'
  | 'missing-checkpoint-file'
  | 'tail-cut'
  | 'hash-mismatch'
  | 'gap';

export interface CheckpointFailure {
  kind: CheckpointFailureKind;
  /** The checkpoint file it is about. */
  file: string;
  /** The row it is about, when one is. */
  seq?: number;
  detail: string;
}

export interface CheckpointEvidence {
  /** The files of the checkpoint directory: name → contents. */
  files: ReadonlyMap<string, string>;
  /** The store's own copy, oldest first: names the files that are gone. */
  stored: readonly StoredCheckpoint[];
  /** The public key checkpoints must be signed with. */
  publicKey: KeyObject;
  keyId: string;
  /** No two checkpoints (nor the newest and `now`) may be further apart than twice this. */
  intervalSeconds: number;
  now: Date;
}

interface CheckpointFile {
  file: string;
  checkpoint: SignedCheckpoint;
  digest: string;
}

/**
 * Checks the checkpoint files against the key, against each other and against the store's
 * copy; what is left to compare with the rows is returned as `signed`, the checkpoints whose
 * signature holds, oldest first by their links.
 */
export function checkCheckpointFiles(evidence: CheckpointEvidence): {
  failures: CheckpointFailure[];
  signed: CheckpointFile[];
} {
  const failures: CheckpointFailure[] = [];
  const signed: CheckpointFile[] = [];
  for (const [file, text] of [...evidence.files].sort(([a], [b]) => a.localeCompare(b))) {
    let checkpoint: SignedCheckpoint;
    try {
      checkpoint = parseCheckpointFile(text);
    } catch (error) {
      failures.push({ kind: 'unreadable-checkpoint-file', file, detail: (error as Error).message });
      continue;
    }
    if (checkpoint.keyId !== evidence.keyId || !hasValidSignature(checkpoint, evidence.publicKey)) {
      failures.push({
        kind: 'bad-signature',
        file,
        seq: checkpoint.seq,
        detail:
          checkpoint.keyId === evidence.keyId
            ? 'the signature does not verify with the public key'
            : `signed by key ${checkpoint.keyId}, not by the given key ${evidence.keyId}`,
      });
      continue;
    }
    signed.push({ file, checkpoint, digest: checkpointDigest(checkpoint) });
  }
  const ordered = inChainOrder(signed);

  const fileByDigest = new Map(ordered.map((each) => [each.digest, each]));
  const storedByDigest = new Map(evidence.stored.map((each) => [checkpointDigest(each), each]));
  for (const stored of evidence.stored) {
    if (!fileByDigest.has(checkpointDigest(stored))) {
      failures.push({
        kind: 'missing-checkpoint-file',
        file: checkpointFileName(stored),
        seq: stored.seq,
        detail: `the store holds checkpoint ${stored.position} (seq ${stored.seq}, ${stored.time}) but its file is gone`,
      });
    }
  }
  ordered.forEach(({ file, checkpoint }, index) => {
    const previous = ordered[index - 1];
    if (previous === undefined) {
      if (checkpoint.prevCheckpoint !== null && !storedByDigest.has(checkpoint.prevCheckpoint)) {
        failures.push({
          kind: 'broken-checkpoint-chain',
          file,
          detail: `the oldest checkpoint names a previous one (${checkpoint.prevCheckpoint.slice(0, 12)}) that neither the directory nor the store holds`,
        });
      }
      return;
    }
    if (checkpoint.prevCheckpoint !== previous.digest) {
      // A file deleted from the middle is reported above, by the store's copy, when it has one.
      const missing =
        checkpoint.prevCheckpoint !== null &&
        storedByDigest.has(checkpoint.prevCheckpoint) &&
        !fileByDigest.has(checkpoint.prevCheckpoint);
      if (!missing) {
        failures.push({
          kind: 'broken-checkpoint-chain',
          file,
          detail: `prevCheckpoint does not name ${previous.file}, the checkpoint before it`,
        });
      }
    }
    if (checkpoint.seq < previous.checkpoint.seq) {
      failures.push({
        kind: 'broken-checkpoint-chain',
        file,
        seq: checkpoint.seq,
        detail: `its seq ${checkpoint.seq} is behind seq ${previous.checkpoint.seq} of ${previous.file}`,
      });
    }
  });
  failures.push(...gaps(ordered, evidence));
  return { failures, signed: ordered };
}

/**
 * Oldest first, by their links: a checkpoint comes after the one its `prevCheckpoint` names.
 * `time` is the clock of the replica that wrote it, and two replicas writing a moment apart (all
 * of them stopping at once, say) may stamp them out of order. Time decides only where the links
 * leave a choice: which run of linked checkpoints comes first, and the order of two that name
 * the same one (which the chain check then reports).
 */
function inChainOrder(signed: readonly CheckpointFile[]): CheckpointFile[] {
  const byTime = [...signed].sort(
    (a, b) => a.checkpoint.time.localeCompare(b.checkpoint.time) || a.file.localeCompare(b.file),
  );
  const digests = new Set(byTime.map((each) => each.digest));
  const followers = new Map<string, CheckpointFile[]>();
  for (const each of byTime) {
    const previous = each.checkpoint.prevCheckpoint;
    if (previous !== null && digests.has(previous)) {
      followers.set(previous, [...(followers.get(previous) ?? []), each]);
    }
  }
  const ordered: CheckpointFile[] = [];
  const placed = new Set<CheckpointFile>();
  const placedDigests = new Set<string>();
  const follow = (first: CheckpointFile) => {
    for (let next: CheckpointFile | undefined = first; next !== undefined;) {
      ordered.push(next);
      placed.add(next);
      placedDigests.add(next.digest);
      next = followers.get(next.digest)?.find((each) => !placed.has(each));
    }
  };
  // Runs that start at a checkpoint whose previous one is placed or not among the files...
  for (const each of byTime) {
    const previous = each.checkpoint.prevCheckpoint;
    const startsRun = previous === null || !digests.has(previous) || placedDigests.has(previous);
    if (!placed.has(each) && startsRun) follow(each);
  }
  // ...then what the links left over: the second of two checkpoints that name the same one.
  for (const each of byTime) if (!placed.has(each)) follow(each);
  return ordered;
}

/** A stretch longer than two intervals without a checkpoint, up to now. */
function gaps(
  signed: readonly CheckpointFile[],
  evidence: CheckpointEvidence,
): CheckpointFailure[] {
  const limitMs = 2 * evidence.intervalSeconds * 1000;
  const failures: CheckpointFailure[] = [];
  if (signed.length === 0) {
    return [
      {
        kind: 'gap',
        file: '-',
        detail: 'the checkpoint directory holds no checkpoint signed with the given key',
      },
    ];
  }
  const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
  signed.forEach(({ file, checkpoint }, index) => {
    const next = signed[index + 1];
    const until = next ? Date.parse(next.checkpoint.time) : evidence.now.getTime();
    const apart = until - Date.parse(checkpoint.time);
    if (apart > limitMs) {
      failures.push({
        kind: 'gap',
        file,
        seq: checkpoint.seq,
        detail: next
          ? `no checkpoint for ${seconds(apart)} after it, until ${next.file} (more than two intervals of ${evidence.intervalSeconds} s)`
          : `it is the newest checkpoint and ${seconds(apart)} old (more than two intervals of ${evidence.intervalSeconds} s): checkpoints stopped`,
      });
    }
  });
  return failures;
}

/** The checkpointed seqs still in the chain, with the hashes that were signed for them. */
export function checkCheckpointedRows(
  signed: readonly CheckpointFile[],
  chain: ChainHashes,
): CheckpointFailure[] {
  const failures: CheckpointFailure[] = [];
  const headSeq = chain.head?.seq ?? 0;
  let lastMatching = 0;
  for (const { file, checkpoint } of signed) {
    const { seq } = checkpoint;
    if (seq > headSeq) {
      failures.push({
        kind: 'tail-cut',
        file,
        seq,
        detail: `it signed the chain up to seq ${seq}, the trail now ends at seq ${headSeq}: ${
          seq === headSeq + 1 ? `row ${seq} was` : `rows ${headSeq + 1}–${seq} were`
        } cut off`,
      });
      continue;
    }
    const stored = seq === 0 ? GENESIS_HASH : chain.hashes.get(seq);
    if (stored !== checkpoint.hash) {
      failures.push({
        kind: 'hash-mismatch',
        file,
        seq,
        detail: `row seq ${seq} does not have the hash it was signed with: a row in seq ${lastMatching + 1}–${seq} was changed and the chain recomputed`,
      });
      continue;
    }
    lastMatching = seq;
  }
  return failures;
}

export function describeFailure(failure: CheckpointFailure): string {
  const row = failure.seq === undefined ? '' : ` seq ${failure.seq}`;
  return `${failure.kind}: ${failure.file}${row}: ${failure.detail}`;
}

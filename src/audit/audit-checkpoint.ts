import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { GENESIS_HASH, type ChainHead } from './audit-chain.js';

/**
 * A signed checkpoint of the audit chain (DESIGN §8): the chain head at `time`, signed with
 * Ed25519 and chained to the checkpoint before it, so that cutting the tail off the trail or
 * recomputing its hashes after a change no longer goes unnoticed.
 */
export interface CheckpointPayload {
  /** The last sealed row's seq; 0 while the trail is empty. */
  seq: number;
  /** That row's hash; the genesis hash while the trail is empty. */
  hash: string;
  /** Rows sealed since the previous checkpoint (seq minus its seq). */
  rows: number;
  /** ISO time of the gateway clock. */
  time: string;
  /** The digest of the previous checkpoint; null for the first one. */
  prevCheckpoint: string | null;
  /** The id of the key that signed (see keyIdOf). */
  keyId: string;
}

export interface SignedCheckpoint extends CheckpointPayload {
  /** Ed25519 signature of the payload's canonical JSON, base64. */
  signature: string;
}

const PAYLOAD_FIELDS = ['seq', 'hash', 'rows', 'time', 'prevCheckpoint', 'keyId'] as const;

/** The signed bytes: RFC 8785 JSON of the six payload fields, whatever else an object holds. */
export function checkpointPayloadJson(checkpoint: CheckpointPayload): string {
  const payload = Object.fromEntries(PAYLOAD_FIELDS.map((field) => [field, checkpoint[field]]));
  const json = canonicalize(payload);
  if (json === undefined) throw new Error('checkpoint has no canonical JSON form');
  return json;
}

/** What the next checkpoint names as `prevCheckpoint`: SHA-256 (hex) of the signed bytes. */
export function checkpointDigest(checkpoint: CheckpointPayload): string {
  return createHash('sha256').update(checkpointPayloadJson(checkpoint), 'utf8').digest('hex');
}

/** SHA-256 of the public key's SPKI DER, first 16 hex digits: names the key, not secret. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** The next checkpoint after `previous` (null: the first), over the chain head `head`. */
export function nextCheckpoint(
  head: ChainHead | null,
  previous: CheckpointPayload | null,
  time: string,
  privateKey: KeyObject,
): SignedCheckpoint {
  const seq = head?.seq ?? 0;
  const payload: CheckpointPayload = {
    seq,
    hash: head?.hash ?? GENESIS_HASH,
    rows: seq - (previous?.seq ?? 0),
    time,
    prevCheckpoint: previous === null ? null : checkpointDigest(previous),
    keyId: keyIdOf(createPublicKey(privateKey)),
  };
  const signature = sign(null, Buffer.from(checkpointPayloadJson(payload), 'utf8'), privateKey);
  return { ...payload, signature: signature.toString('base64') };
}

/** True when `signature` is `publicKey`'s Ed25519 signature of the checkpoint's payload. */
export function hasValidSignature(checkpoint: SignedCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(
      null,
      Buffer.from(checkpointPayloadJson(checkpoint), 'utf8'),
      publicKey,
      Buffer.from(checkpoint.signature, 'base64'),
    );
  } catch {
    return false;
  }
}

/**
 * The checkpoint's file in AUDIT_CHECKPOINT_DIR: its time first, so that a directory listing is
 * in time order, then a digest prefix, so that two checkpoints of one millisecond differ.
 */
export function checkpointFileName(checkpoint: CheckpointPayload): string {
  const time = checkpoint.time.replace(/[:.]/g, '-');
  return `checkpoint-${time}-${checkpointDigest(checkpoint).slice(0, 12)}.json`;
}

/** The file's contents: the signed checkpoint, one JSON object. */
export function checkpointFileJson(checkpoint: SignedCheckpoint): string {
  return `${JSON.stringify(checkpoint, [...PAYLOAD_FIELDS, 'signature'], 2)}\n`;
}

/** Reads a checkpoint file's contents back; throws naming what is wrong. */
export function parseCheckpointFile(text: string): SignedCheckpoint {
  const value = JSON.parse(text) as Record<string, unknown>;
  const isHex64 = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
  const checks: [string, boolean][] = [
    ['seq', Number.isSafeInteger(value.seq) && (value.seq as number) >= 0],
    ['hash', isHex64(value.hash)],
    ['rows', Number.isSafeInteger(value.rows) && (value.rows as number) >= 0],
    ['time', typeof value.time === 'string' && !Number.isNaN(Date.parse(value.time))],
    ['prevCheckpoint', value.prevCheckpoint === null || isHex64(value.prevCheckpoint)],
    ['keyId', typeof value.keyId === 'string'],
    ['signature', typeof value.signature === 'string'],
  ];
  const wrong = checks.filter(([, ok]) => !ok).map(([field]) => field);
  if (wrong.length > 0)
    throw new Error(`not a checkpoint: ${wrong.join(', ')} missing or malformed`);
  return value as unknown as SignedCheckpoint;
}

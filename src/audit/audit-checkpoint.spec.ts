import { generateKeyPairSync } from 'node:crypto';
import { GENESIS_HASH } from './audit-chain.js';
import {
  checkpointDigest,
  checkpointFileJson,
  checkpointFileName,
  checkpointPayloadJson,
  hasValidSignature,
  keyIdOf,
  nextCheckpoint,
  parseCheckpointFile,
  type SignedCheckpoint,
} from './audit-checkpoint.js';

const HEAD = { seq: 7, hash: 'a'.repeat(64) };
const TIME = '2026-11-30T03:00:00.000Z';

describe('signed audit checkpoints', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');

  it('signs the canonical JSON of the six payload fields, keys in RFC 8785 order', () => {
    const checkpoint = nextCheckpoint(HEAD, null, TIME, privateKey);

    expect(checkpointPayloadJson(checkpoint)).toBe(
      `{"hash":"${'a'.repeat(64)}","keyId":"${keyIdOf(publicKey)}","prevCheckpoint":null,"rows":7,"seq":7,"time":"${TIME}"}`,
    );
    expect(hasValidSignature(checkpoint, publicKey)).toBe(true);
  });

  it('gives the same canonical JSON whatever the field order and whatever else the object holds', () => {
    const checkpoint = nextCheckpoint(HEAD, null, TIME, privateKey);
    const reordered = Object.fromEntries(Object.entries(checkpoint).reverse()) as SignedCheckpoint;

    expect(checkpointPayloadJson({ ...reordered, position: 3 } as SignedCheckpoint)).toBe(
      checkpointPayloadJson(checkpoint),
    );
  });

  it.each([
    ['seq', { seq: 6 }],
    ['hash', { hash: 'b'.repeat(64) }],
    ['rows', { rows: 1 }],
    ['time', { time: '2026-11-30T04:00:00.000Z' }],
    ['prevCheckpoint', { prevCheckpoint: 'c'.repeat(64) }],
    ['keyId', { keyId: '0'.repeat(16) }],
  ])('refuses the signature once %s is changed', (_field, change) => {
    const checkpoint = nextCheckpoint(HEAD, null, TIME, privateKey);

    expect(hasValidSignature({ ...checkpoint, ...change }, publicKey)).toBe(false);
  });

  it("refuses another key's signature and a signature that is not one", () => {
    const other = generateKeyPairSync('ed25519');
    const forged = nextCheckpoint(HEAD, null, TIME, other.privateKey);
    const genuine = nextCheckpoint(HEAD, null, TIME, privateKey);

    expect(hasValidSignature({ ...forged, keyId: genuine.keyId }, publicKey)).toBe(false);
    expect(hasValidSignature({ ...genuine, signature: 'not base64!' }, publicKey)).toBe(false);
  });

  it('chains a checkpoint to the digest of the one before and counts the rows since', () => {
    const first = nextCheckpoint(HEAD, null, TIME, privateKey);
    const second = nextCheckpoint({ seq: 9, hash: 'd'.repeat(64) }, first, TIME, privateKey);
    const unchanged = nextCheckpoint({ seq: 9, hash: 'd'.repeat(64) }, second, TIME, privateKey);

    expect(second.prevCheckpoint).toBe(checkpointDigest(first));
    expect(checkpointDigest(first)).toMatch(/^[0-9a-f]{64}$/);
    expect([first.rows, second.rows, unchanged.rows]).toEqual([7, 2, 0]);
  });

  it('signs an empty trail as seq 0 with the genesis hash', () => {
    const checkpoint = nextCheckpoint(null, null, TIME, privateKey);

    expect([checkpoint.seq, checkpoint.hash, checkpoint.rows]).toEqual([0, GENESIS_HASH, 0]);
  });

  it('names the key by the SHA-256 of its SPKI DER, 16 hex digits', () => {
    expect(keyIdOf(publicKey)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyIdOf(generateKeyPairSync('ed25519').publicKey)).not.toBe(keyIdOf(publicKey));
  });

  it('reads its file back, and names the fields of one that is not a checkpoint', () => {
    const checkpoint = nextCheckpoint(HEAD, null, TIME, privateKey);

    expect(parseCheckpointFile(checkpointFileJson(checkpoint))).toEqual(checkpoint);
    expect(checkpointFileName(checkpoint)).toMatch(
      /^checkpoint-2026-11-30T03-00-00-000Z-[0-9a-f]{12}\.json$/,
    );
    expect(() =>
      parseCheckpointFile(JSON.stringify({ ...checkpoint, seq: -1, hash: 'x' })),
    ).toThrow('not a checkpoint: seq, hash missing or malformed');
  });
});

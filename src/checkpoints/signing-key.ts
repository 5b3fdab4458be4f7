import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { keyIdOf } from '../audit/audit-checkpoint.js';
import { GENERATED_SIGNING_KEY_FILE } from '../audit/checkpoint.config.js';

/** The key pair that signs checkpoints; also the Nest token it is injected by. */
export class SigningKey {
  constructor(
    readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
    /** SHA-256 of the SPKI DER, hex prefix: what every checkpoint names as keyId. */
    readonly keyId: string,
    /** SPKI PEM, what auditors pass to `audit:verify --public-key`. */
    readonly publicKeyPem: string,
    /** The private key's file. */
    readonly file: string,
  ) {}
}

/** A start-up failure that names the setting to fix. */
export class SigningKeyError extends Error {}

/**
 * The checkpoint signing key: AUDIT_SIGNING_KEY_FILE (an Ed25519 private key, PEM). Outside
 * production, when none is given, one is generated under ./data/ on first start and reused
 * after, with its public key beside it; in production a missing key stops the start, since
 * checkpoints signed by a key nobody kept prove nothing.
 */
export function loadSigningKey(
  file: string | null,
  production: boolean,
  generatedFile = GENERATED_SIGNING_KEY_FILE,
): SigningKey {
  if (file === null) {
    if (production) {
      throw new SigningKeyError(
        'AUDIT_SIGNING_KEY_FILE is required in production: the Ed25519 private key (PEM) that signs audit checkpoints',
      );
    }
    const generated = resolve(generatedFile);
    if (!existsSync(generated)) generateSigningKey(generated);
    return readSigningKey(generated);
  }
  return readSigningKey(file);
}

/** Writes a new Ed25519 key pair: `file` (private, 0600) and `file` with `.pub.pem` (public). */
export function generateSigningKey(file: string): void {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
      flag: 'wx',
    });
  } catch (error) {
    // Another process starting beside this one generated it first: that key is the one.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  writeFileSync(publicKeyFileOf(file), publicKey.export({ type: 'spki', format: 'pem' }), {
    flag: 'wx',
  });
}

/** Where a generated key's public half is written. */
export function publicKeyFileOf(file: string): string {
  return file.replace(/(\.pem)?$/, '.pub.pem');
}

function readSigningKey(file: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SigningKeyError(
      `AUDIT_SIGNING_KEY_FILE ${file}: not a readable private key (PEM): ${(error as Error).message}`,
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(
      `AUDIT_SIGNING_KEY_FILE ${file}: an ${privateKey.asymmetricKeyType ?? 'unknown'} key, checkpoints are signed with Ed25519`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  return new SigningKey(
    privateKey,
    publicKey,
    keyIdOf(publicKey),
    publicKey.export({ type: 'spki', format: 'pem' }) as string,
    file,
  );
}

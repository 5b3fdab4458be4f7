import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyIdOf } from '../audit/audit-checkpoint.js';
import { loadSigningKey, publicKeyFileOf, SigningKeyError } from './signing-key.js';

describe('the checkpoint signing key', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vlg-signing-key-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads AUDIT_SIGNING_KEY_FILE and names it by its public key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const file = join(dir, 'key.pem');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));

    const key = loadSigningKey(file, true);

    expect(key.keyId).toBe(keyIdOf(publicKey));
    expect(key.publicKeyPem).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
  });

  it('stops a production start without a key, naming the variable', () => {
    expect(() => loadSigningKey(null, true, join(dir, 'generated.pem'))).toThrow(
      new SigningKeyError(
        'AUDIT_SIGNING_KEY_FILE is required in production: the Ed25519 private key (PEM) that signs audit checkpoints',
      ),
    );
  });

  it('outside production, generates a key once (private 0600, public beside it) and reuses it', () => {
    const generated = join(dir, 'data', 'audit-signing-key.pem');

    const first = loadSigningKey(null, false, generated);
    const second = loadSigningKey(null, false, generated);

    expect(second.keyId).toBe(first.keyId);
    expect(statSync(generated).mode & 0o777).toBe(0o600);
    expect(readFileSync(publicKeyFileOf(generated), 'utf8')).toBe(first.publicKeyPem);
  });

  it('refuses a file that is not a key, or a key that is not Ed25519, naming the file', () => {
    const notKey = join(dir, 'not-a-key.pem');
    writeFileSync(notKey, 'hello');
    const rsa = join(dir, 'rsa.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(rsa, privateKey.export({ type: 'pkcs8', format: 'pem' }));

    expect(() => loadSigningKey(notKey, false)).toThrow(
      `AUDIT_SIGNING_KEY_FILE ${notKey}: not a readable private key (PEM)`,
    );
    expect(() => loadSigningKey(rsa, false)).toThrow(
      `AUDIT_SIGNING_KEY_FILE ${rsa}: an rsa key, checkpoints are signed with Ed25519`,
    );
    expect(() => loadSigningKey(join(dir, 'missing.pem'), true)).toThrow(SigningKeyError);
  });
});

// Proves, beyond authentication.e2e-spec.ts: a flood of unknown `kid`s costs at most one JWKS
// refetch per cooldown; malformed base64, `nbf` beyond the clock skew, a genuinely signed but
// oversized token and a token in the query string are all refused with 401, with no IAM exchange
// and no upstream call; so is a correctly signed token that repeats a claim.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sign as cryptoSign, KeyObject, type webcrypto } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { INSTANCES } from '../src/simulator/fixtures.js';
import {
  graphql,
  lockBody,
  lockPath,
  rest,
  SHOW_LOCK_QUERY,
  upstreamCalls,
} from './support/clients.js';
import { startHarness, type Harness } from './support/gateway-harness.js';

const { projectId, id: instanceId } = INSTANCES.financeProd;
/** AUTH_CLOCK_SKEW_SECONDS' default. */
const CLOCK_SKEW_SECONDS = 30;

describe('token attacks', () => {
  let h: Harness;
  let genuine: string;

  beforeAll(async () => {
    h = await startHarness();
    genuine = await h.simulator.mintToken({ sub: 'tara', groups: ['dba'] });
    // The gateway fetches the key set once here; every later fetch is counted by the tests.
    expect((await rest(h, 'GET', lockPath(projectId, instanceId), { token: genuine })).status).toBe(
      200,
    );
    h.simulator.reset();
  });
  afterAll(() => h.close());

  const jwksFetches = () => h.simulator.calls()['idp.jwks'];

  /** `query` is added to both channels' URLs. */
  async function expectRefused(authorization: string | undefined, query = '') {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const put = await rest(h, 'PUT', `${lockPath(projectId, instanceId)}${query}`, {
      headers,
      body: lockBody('enable', 30),
    });
    expect({ status: put.status, code: put.body.error_code }).toEqual({
      status: 401,
      code: 'GW.UNAUTHENTICATED',
    });
    const response = await fetch(`${h.url}/graphql${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: SHOW_LOCK_QUERY, variables: { projectId, instanceId } }),
    });
    const body = (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[] };
    expect(body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(upstreamCalls(h)).toBe(0);
    return put;
  }

  it('refetches the key set at most once for a flood of unknown kids', async () => {
    const foreign = await generateKeyPair('RS256');
    const tokens = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        new SignJWT({ sub: 'mallory', groups: ['dba'] })
          .setProtectedHeader({ alg: 'RS256', kid: `rotated-key-${i}` })
          .setIssuer(h.simulator.idpIssuer)
          .setAudience(h.simulator.audience)
          .setExpirationTime('5m')
          .sign(foreign.privateKey),
      ),
    );
    const answers = await Promise.all(
      tokens.map((token) => rest(h, 'GET', lockPath(projectId, instanceId), { token })),
    );
    expect(answers.map((a) => a.status)).toEqual(tokens.map(() => 401));
    expect(jwksFetches()).toBeLessThanOrEqual(1);
    expect(upstreamCalls(h)).toBe(0);
  });

  it('refuses malformed base64 in each part of the token', async () => {
    const [header, payload, signature] = genuine.split('.');
    const standardBase64 = (part: string) =>
      Buffer.from(part, 'base64url').toString('base64').replace(/=+$/, '') + '+/=';
    for (const token of [
      `${header.slice(0, -2)}!!.${payload}.${signature}`,
      `${header}.${standardBase64(payload)}.${signature}`,
      `${header}.${Buffer.from('{"sub":').toString('base64url')}.${signature}`,
      `${header}.${payload}.%%%${signature.slice(3)}`,
      `${header}.${payload}`,
      `${header}..${signature}`,
    ]) {
      await expectRefused(`Bearer ${token}`);
    }
  });

  it(`refuses nbf beyond the ${CLOCK_SKEW_SECONDS} s skew and accepts it within`, async () => {
    await expectRefused(
      `Bearer ${await h.simulator.mintToken({ notBeforeSeconds: CLOCK_SKEW_SECONDS + 30 })}`,
    );
    const withinSkew = await h.simulator.mintToken({ sub: 'tara', notBeforeSeconds: 10 });
    expect(
      (await graphql(h, SHOW_LOCK_QUERY, { projectId, instanceId }, withinSkew)).errors,
    ).toBeUndefined();
    h.simulator.reset();
  });

  it('refuses a genuinely signed but oversized token before verifying it', async () => {
    const oversized = await h.simulator.mintToken({
      extraClaims: { padding: 'x'.repeat(9000) },
    });
    const refused = await expectRefused(`Bearer ${oversized}`);
    // Refused for its size, not for a signature or claim that failed verification.
    expect(refused.body.error_msg).toMatch(/too large/);
    expect(jwksFetches()).toBe(0);
  });

  it('ignores a genuine token offered in the query string instead of the header', async () => {
    for (const name of ['access_token', 'token', 'jwt', 'authorization']) {
      await expectRefused(undefined, `?${name}=${genuine}`);
    }
  });
});

describe('a correctly signed token that repeats a claim', () => {
  it('is refused with 401, while the same token without the repeat is accepted', async () => {
    // The test is its own identity provider here: only the holder of a signing key can make a
    // valid signature over a payload that repeats a claim, and no IdP API mints one.
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-idp-key', alg: 'RS256', use: 'sig' };
    const jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const { port } = jwksServer.address() as AddressInfo;
    const issuer = 'https://test-idp.example';
    const h = await startHarness({
      AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: 'vault-lock-gateway',
    });
    try {
      const now = Math.floor(Date.now() / 1000);
      const claims = `"iss":"${issuer}","aud":"vault-lock-gateway","exp":${now + 600},"groups":["dba"]`;
      const sign = async (payload: string) => {
        const signingInput = `${b64url('{"alg":"RS256","kid":"test-idp-key"}')}.${b64url(payload)}`;
        const signature = cryptoSign(
          'sha256',
          Buffer.from(signingInput),
          KeyObject.from(privateKey as webcrypto.CryptoKey),
        );
        return `${signingInput}.${signature.toString('base64url')}`;
      };
      const path = lockPath(projectId, instanceId);

      const repeated = await sign(`{"sub":"reader",${claims},"sub":"admin"}`);
      const refused = await rest(h, 'GET', path, { token: repeated });
      expect(refused.status).toBe(401);
      expect(refused.body.error_msg).toMatch(/sub appears more than once/);

      // Past authentication, IAM refuses this IdP's token: a 403 from IAM, not a 401.
      const single = await sign(`{"sub":"reader",${claims}}`);
      const accepted = await rest(h, 'GET', path, { token: single });
      expect(accepted.body.error_code).toBe('GW.IAM_REFUSED');
    } finally {
      await h.close();
      await new Promise((resolve) => jwksServer.close(resolve));
    }
  });
});

const b64url = (text: string) => Buffer.from(text).toString('base64url');

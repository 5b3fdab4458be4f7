// Proves, beyond authentication.e2e-spec.ts: a flood of unknown `kid`s costs at most one JWKS
// refetch per cooldown; malformed base64, `nbf` beyond the clock skew, a genuinely signed but
// oversized token and a token in the query string are all refused with 401, with no IAM exchange
// and no upstream call.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPair, SignJWT } from 'jose';
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
    await expectRefused(`Bearer ${oversized}`);
    expect(jwksFetches()).toBe(0);
  });

  it('ignores a genuine token offered in the query string instead of the header', async () => {
    for (const name of ['access_token', 'token', 'jwt', 'authorization']) {
      await expectRefused(undefined, `?${name}=${genuine}`);
    }
  });
});

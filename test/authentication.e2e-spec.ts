import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { InternalTokenVerifier } from '../src/auth/internal-token-verifier.js';
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
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('internal token verification', () => {
  let h: Harness;
  const attacks: { name: string; header: () => Promise<string | undefined> }[] = [];

  beforeAll(async () => {
    h = await startHarness();
    const valid = await h.simulator.mintToken({ sub: 'mallory', groups: ['dba'] });
    const [header, payload] = valid.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const kid = (JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string }).kid;
    const foreign = await generateKeyPair('RS256');
    const jwks = (await (await fetch(h.simulator.jwksUrl)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);

    const bearer = (token: string) => async () => `Bearer ${token}`;
    attacks.push(
      { name: 'missing Authorization', header: async () => undefined },
      {
        name: 'not a Bearer scheme',
        header: async () => `Basic ${Buffer.from('a:b').toString('base64')}`,
      },
      { name: 'not a JWT', header: bearer('not-a-token') },
      {
        name: 'expired',
        header: async () => `Bearer ${await h.simulator.mintToken({ expiresInSeconds: -120 })}`,
      },
      {
        name: 'nbf in the future',
        header: async () => `Bearer ${await h.simulator.mintToken({ notBeforeSeconds: 600 })}`,
      },
      {
        name: 'wrong audience',
        header: async () => `Bearer ${await h.simulator.mintToken({ audience: 'someone-else' })}`,
      },
      {
        name: 'wrong issuer',
        header: async () =>
          `Bearer ${await h.simulator.mintToken({ issuer: 'https://evil.example/idp' })}`,
      },
      { name: 'alg none', header: bearer(`${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`) },
      {
        name: 'tampered payload',
        header: bearer(
          `${header}.${b64({ ...claims, groups: ['dba', 'admin'] })}.${valid.split('.')[2]}`,
        ),
      },
      {
        name: 'signed by a foreign key under the real kid',
        header: async () =>
          `Bearer ${await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(foreign.privateKey)}`,
      },
      {
        name: 'HS256 signed with the public key',
        header: async () => {
          const spki = await exportSPKI(
            (await generateKeyPair('RS256', { extractable: true })).publicKey,
          );
          const token = await new SignJWT(claims)
            .setProtectedHeader({ alg: 'HS256', kid })
            .sign(new TextEncoder().encode(spki));
          return `Bearer ${token}`;
        },
      },
      { name: 'oversized token', header: bearer(`${header}.${'A'.repeat(9000)}.sig`) },
    );
    h.simulator.reset();
  });
  afterAll(() => h.close());

  it('refuses every forged, stale or misdirected token on both channels with no IAM call', async () => {
    expect(attacks.length).toBeGreaterThanOrEqual(12);
    for (const attack of attacks) {
      const authorization = await attack.header();
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const put = await rest(h, 'PUT', lockPath(projectId, instanceId), {
        headers,
        body: lockBody('enable', 30),
      });
      expect({ attack: attack.name, status: put.status, code: put.body.error_code }).toEqual({
        attack: attack.name,
        status: 401,
        code: 'GW.UNAUTHENTICATED',
      });

      const response = await fetch(`${h.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: SHOW_LOCK_QUERY, variables: { projectId, instanceId } }),
      });
      const body = (await response.json()) as {
        errors?: { extensions?: Record<string, unknown> }[];
      };
      expect({ attack: attack.name, code: body.errors?.[0].extensions?.code }).toEqual({
        attack: attack.name,
        code: 'UNAUTHENTICATED',
      });
    }
    expect(upstreamCalls(h)).toBe(0);
  });

  it('refuses every GraphQL request without a valid token before parsing it: 401, introspection and __typename included', async () => {
    const expired = await h.simulator.mintToken({ expiresInSeconds: -120 });
    const documents = [
      'mutation { __typename }',
      '{ __typename }',
      '{ __schema { types { name } } }',
      SHOW_LOCK_QUERY,
      '{ not a document',
    ];
    for (const authorization of [undefined, 'Bearer x.y.z', 'Bearer ', `Bearer ${expired}`]) {
      for (const query of documents) {
        const response = await fetch(`${h.url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(authorization ? { authorization } : {}),
          },
          body: JSON.stringify({ query, variables: { projectId, instanceId } }),
        });
        const body = (await response.json()) as Record<string, unknown>;
        expect({ authorization, query, status: response.status, body }).toEqual({
          authorization,
          query,
          status: 401,
          body: {
            errors: [
              {
                message: expect.any(String),
                extensions: {
                  code: 'UNAUTHENTICATED',
                  errorCode: 'GW.UNAUTHENTICATED',
                  requestId: response.headers.get('x-request-id'),
                },
              },
            ],
          },
        });
      }
    }
    // A GET query (with the header CSRF prevention asks for) is refused the same way.
    const viaGet = await fetch(`${h.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(viaGet.status).toBe(401);
    expect(await viaGet.text()).toContain('GW.UNAUTHENTICATED');
    expect(upstreamCalls(h)).toBe(0);
  });

  it('verifies the token once per GraphQL request, however many resolvers it runs', async () => {
    const token = await h.simulator.mintToken({ sub: 'once', groups: ['dba'] });
    const verifier = h.app.get(InternalTokenVerifier);
    const authenticate = jest.spyOn(verifier, 'authenticate');
    try {
      const show = (alias: string) =>
        `${alias}: backupVaultLock(projectId: "${projectId}", instanceId: "${instanceId}") { enabled }`;
      const answer = await graphql(h, `{ ${show('a')} ${show('b')} ${show('c')} }`, {}, token);
      expect(answer.errors).toBeUndefined();
      expect(authenticate).toHaveBeenCalledTimes(1);
    } finally {
      authenticate.mockRestore();
    }
  });

  it('accepts the genuine token', async () => {
    const token = await h.simulator.mintToken({ sub: 'vera', groups: ['dba'] });
    const shown = await graphql(h, SHOW_LOCK_QUERY, { projectId, instanceId }, token);
    expect(shown.errors).toBeUndefined();
  });

  it('leaves health, metrics and the API description public', async () => {
    for (const path of ['/health/live', '/metrics', '/openapi.json']) {
      const answer = await fetch(`${h.url}${path}`);
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
    }
  });
});

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Pool } from 'undici';
import { isInstanceId, isProjectId } from '../src/domain/ids.js';
import { exchangeOidcToken, type IamToken } from './iam-token.js';

/** Configured like the gateway, from the same variables (DESIGN §4). */
export interface ReferenceProxyConfig {
  /** TaurusDB base URL with `{region}`. */
  taurusDbEndpoint: string;
  iamEndpoint: string;
  idpId: string;
  jwksUrl: string;
  issuer: string;
  audience: string;
}

export interface RunningService {
  url: string;
  close(): Promise<void>;
}

const LOCK_PATH = /^\/v3\/([^/]+)\/instances\/([^/]+)\/backups\/vault-lock$/;
const MAX_BODY_BYTES = 16 * 1024;
const ALGORITHMS = ['RS256', 'PS256', 'ES256'];

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

interface UpstreamAnswer {
  status: number;
  body: string;
}

/**
 * The gateway's steps for a vault-lock call with nothing else: the JWT checked against the
 * issuer's JWKS, an IAM token per caller and project fetched once and kept, the instance
 * details call, then TaurusDB's own call, whose answer is passed back as it is. No framework,
 * no validation beyond parsing, no policy, no audit: what the gateway is measured against.
 */
export async function startReferenceProxy(config: ReferenceProxyConfig): Promise<RunningService> {
  const jwks = createRemoteJWKSet(new URL(config.jwksUrl));
  const pools = new Map<string, Pool>();
  const poolFor = (origin: string): Pool => {
    let pool = pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin);
      pools.set(origin, pool);
    }
    return pool;
  };
  const iamTokens = new Map<string, Promise<IamToken>>();

  const authenticate = async (authorization: string | undefined) => {
    const jwt = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
    if (jwt === undefined) throw new Refusal(401, 'REF.UNAUTHENTICATED');
    const { payload } = await jwtVerify(jwt, jwks, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: ALGORITHMS,
    }).catch(() => {
      throw new Refusal(401, 'REF.UNAUTHENTICATED');
    });
    return { jwt, principal: `${payload.iss}#${payload.sub}` };
  };

  const iamTokenFor = (caller: { jwt: string; principal: string }, projectId: string) => {
    const key = `${caller.principal}|${projectId}`;
    let token = iamTokens.get(key);
    if (token === undefined) {
      token = exchangeOidcToken({
        iamEndpoint: config.iamEndpoint,
        idpId: config.idpId,
        idToken: caller.jwt,
        projectId,
        dispatcher: poolFor(new URL(config.iamEndpoint).origin),
      });
      token.catch(() => iamTokens.delete(key));
      iamTokens.set(key, token);
    }
    return token;
  };

  const callTaurusDb = async (
    token: IamToken,
    method: 'GET' | 'PUT',
    path: string,
    body?: string,
  ): Promise<UpstreamAnswer> => {
    const base = new URL(config.taurusDbEndpoint.replace('{region}', token.region));
    const response = await poolFor(base.origin).request({
      method,
      path: `${base.pathname.replace(/\/$/, '')}${path}`,
      headers: {
        'x-auth-token': token.value,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body,
    });
    return { status: response.statusCode, body: await response.body.text() };
  };

  const handle = async (request: IncomingMessage): Promise<UpstreamAnswer> => {
    const match = LOCK_PATH.exec(new URL(request.url ?? '/', 'http://reference').pathname);
    const method = request.method;
    if (match === null || (method !== 'GET' && method !== 'PUT')) {
      throw new Refusal(404, 'REF.NOT_FOUND');
    }
    const [, projectId, instanceId] = match;
    if (!isProjectId(projectId) || !isInstanceId(instanceId)) {
      throw new Refusal(400, 'REF.VALIDATION');
    }
    const caller = await authenticate(request.headers.authorization);
    const body = method === 'PUT' ? await readJson(request) : undefined;
    const token = await iamTokenFor(caller, projectId);
    const instance = await callTaurusDb(token, 'GET', `/v3.1/${projectId}/instances/${instanceId}`);
    if (instance.status !== 200) return instance;
    return callTaurusDb(
      token,
      method,
      `/v3/${projectId}/instances/${instanceId}/backups/vault-lock`,
      body,
    );
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    handle(request)
      .catch((error: unknown) =>
        error instanceof Refusal
          ? { status: error.status, body: JSON.stringify({ error_code: error.code }) }
          : { status: 502, body: JSON.stringify({ error_code: 'REF.UPSTREAM_ERROR' }) },
      )
      .then(({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(body);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}

/** The body as text once it parses as JSON, so a malformed one is refused here. */
async function readJson(request: IncomingMessage): Promise<string> {
  let text = '';
  request.setEncoding('utf8');
  for await (const chunk of request) {
    text += chunk;
    if (text.length > MAX_BODY_BYTES) throw new Refusal(413, 'REF.PAYLOAD_TOO_LARGE');
  }
  try {
    JSON.parse(text);
  } catch {
    throw new Refusal(400, 'REF.VALIDATION');
  }
  return text;
}

import { randomUUID } from 'node:crypto';
import {
  SignJWT,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  type JWK,
  type JWTPayload,
} from 'jose';
import { DEV_GROUPS } from './fixtures.js';
import { isJsonObject } from './request-input.js';
import type { SimulatedRoute } from './simulated-route.js';
import { IdpCode, SimulatorError } from './simulator-error.js';

/** The audience the development identity provider puts in tokens unless asked for another. */
export const DEV_AUDIENCE = 'vault-lock-gateway';

const ALGORITHM = 'RS256';
const DEFAULT_SUBJECT = 'dev-dba';
const DEFAULT_LIFETIME_SECONDS = 3600;

export interface MintRequest {
  sub?: string;
  groups?: string[];
  audience?: string;
  issuer?: string;
  /** Negative values mint a token that has already expired. */
  expiresInSeconds?: number;
  /** Offset of `nbf` from now. */
  notBeforeSeconds?: number;
  /** Merged into the payload; the registered claims above win over them. */
  extraClaims?: Record<string, unknown>;
}

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/**
 * A development OIDC provider: one RS256 key pair made at start, a JWKS and discovery document,
 * and a minting call for tests and local use. Never a production identity provider.
 */
export class DevIdentityProvider {
  private constructor(
    private readonly keys: KeyPair,
    private readonly publicJwk: JWK,
    /** A function because the issuer URL is known only once the simulator listens. */
    private readonly issuerUrl: () => string,
  ) {}

  static async create(issuerUrl: () => string): Promise<DevIdentityProvider> {
    const keys = await generateKeyPair(ALGORITHM);
    const jwk = await exportJWK(keys.publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    return new DevIdentityProvider(keys, { ...jwk, kid, alg: ALGORITHM, use: 'sig' }, issuerUrl);
  }

  get issuer(): string {
    return this.issuerUrl();
  }

  discovery(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/jwks`,
      id_token_signing_alg_values_supported: [ALGORITHM],
      subject_types_supported: ['public'],
      response_types_supported: ['id_token'],
    };
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  async mint(request: MintRequest = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ groups: request.groups ?? DEV_GROUPS, ...request.extraClaims })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.publicJwk.kid, typ: 'JWT' })
      .setIssuer(request.issuer ?? this.issuer)
      .setSubject(request.sub ?? DEFAULT_SUBJECT)
      .setAudience(request.audience ?? DEV_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + (request.expiresInSeconds ?? DEFAULT_LIFETIME_SECONDS))
      .setJti(randomUUID());
    if (request.notBeforeSeconds !== undefined) jwt.setNotBefore(now + request.notBeforeSeconds);
    return jwt.sign(this.keys.privateKey);
  }

  /** Checks signature, issuer and time claims, as IAM does for a federated identity provider. */
  async verify(token: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.keys.publicKey, {
      algorithms: [ALGORITHM],
      issuer: this.issuer,
    });
    return payload;
  }
}

function invalidMint(message: string): SimulatorError {
  return new SimulatorError(400, IdpCode.BAD_REQUEST, message);
}

const optionalString = (value: unknown): boolean =>
  value === undefined || (typeof value === 'string' && value !== '');
const optionalNumber = (value: unknown): boolean =>
  value === undefined || (typeof value === 'number' && Number.isFinite(value));

export function parseMintRequest(body: unknown): MintRequest {
  if (body === undefined) return {};
  if (!isJsonObject(body)) throw invalidMint('body must be a JSON object');
  for (const field of ['sub', 'audience', 'issuer']) {
    if (!optionalString(body[field])) throw invalidMint(`${field} must be a non-empty string`);
  }
  for (const field of ['expiresInSeconds', 'notBeforeSeconds']) {
    if (!optionalNumber(body[field])) throw invalidMint(`${field} must be a number of seconds`);
  }
  const { groups, extraClaims } = body;
  if (
    groups !== undefined &&
    !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))
  ) {
    throw invalidMint('groups must be an array of strings');
  }
  if (extraClaims !== undefined && !isJsonObject(extraClaims)) {
    throw invalidMint('extraClaims must be an object');
  }
  return body as MintRequest;
}

export function idpRoutes(idp: DevIdentityProvider): SimulatedRoute[] {
  return [
    {
      method: 'GET',
      paths: ['/idp/jwks'],
      name: 'idp.jwks',
      handle: async () => idp.jwks(),
    },
    {
      method: 'POST',
      paths: ['/idp/dev/tokens'],
      name: 'idp.mint',
      handle: async (request, reply) => {
        const token = await idp.mint(parseMintRequest(request.body));
        reply.code(201);
        return { token };
      },
    },
  ];
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { Clock } from '../common/clock.js';
import { ExpiringMap } from '../common/expiring-map.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { identityFlaw } from '../common/unicode-text.js';
import { authConfig } from './auth.config.js';
import { Principal } from '../domain/principal.js';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/;
/** Larger tokens are refused before any parsing: no legitimate internal token comes close. */
const MAX_TOKEN_LENGTH = 8192;
/** A verified token is taken on trust again for at most this long, and never past its `exp`. */
const VERIFIED_FOR_MS = 60_000;
const MAX_VERIFIED_TOKENS = 10_000;

/**
 * Verifies the caller's internal JWT against the internal issuer's JWKS. jose keeps the key set
 * cached and refetches it at most once per cooldown, so a flood of unknown `kid`s cannot turn
 * into a flood of JWKS requests.
 */
@Injectable()
export class InternalTokenVerifier {
  private readonly logger = new Logger(InternalTokenVerifier.name);
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;

  /**
   * A client sends the same token with every call; checking its RSA signature each time was the
   * largest cost of authentication under load. A signature that verified stays valid, so the
   * result is reused for a minute at most (a key removed from the JWKS takes that long to bite).
   */
  private readonly verified: ExpiringMap<string, Principal>;

  constructor(
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
    private readonly clock: Clock,
  ) {
    this.verified = new ExpiringMap(MAX_VERIFIED_TOKENS, clock);
    this.keys = createRemoteJWKSet(new URL(config.jwksUrl), {
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
    });
  }

  /** The caller of a request, from its `Authorization` header: `Bearer <JWT>` and nothing else. */
  authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw GatewayError.unauthenticated('Authorization header missing');
    const match = BEARER.exec(authorization);
    if (!match) throw GatewayError.unauthenticated('Authorization header must be "Bearer <JWT>"');
    return this.verify(match[1]);
  }

  async verify(token: string): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH) {
      throw GatewayError.unauthenticated('bearer token is too large');
    }
    const known = this.verified.get(token);
    if (known) return known;

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: this.config.algorithms,
        clockTolerance: this.config.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw this.toGatewayError(error);
    }
    const repeated = repeatedClaim(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    if (repeated !== undefined) {
      // JSON parsers keep the last copy and other verifiers may keep the first: a token that
      // says two things must not be read as either.
      throw GatewayError.unauthenticated(`token claim ${repeated} appears more than once`);
    }
    const unclean = uncleanIdentityClaim(payload, this.config.groupsClaim);
    if (unclean !== undefined) throw GatewayError.unauthenticated(unclean);
    const principal = new Principal(
      payload.iss ?? '',
      payload.sub ?? '',
      this.groupsOf(payload),
      token,
    );
    const until = Math.min((payload.exp as number) * 1000, this.clock.nowMs() + VERIFIED_FOR_MS);
    this.verified.set(token, principal, until);
    return principal;
  }

  private groupsOf(payload: JWTPayload): string[] {
    return groupsFromClaim(payload[this.config.groupsClaim]);
  }

  private toGatewayError(error: unknown): GatewayError {
    if (isKeySetFailure(error)) {
      this.logger.error('internal JWKS could not be fetched');
      return new GatewayError(
        GwCode.UPSTREAM_UNAVAILABLE,
        503,
        'identity provider key set unavailable',
      );
    }
    if (error instanceof errors.JWTExpired) return GatewayError.unauthenticated('token expired');
    if (error instanceof errors.JWTClaimValidationFailed) {
      return GatewayError.unauthenticated(
        `token claim ${error.claim} is invalid (${error.reason})`,
      );
    }
    if (error instanceof errors.JOSEAlgNotAllowed) {
      return GatewayError.unauthenticated('token algorithm not allowed');
    }
    if (error instanceof errors.JWKSNoMatchingKey) {
      return GatewayError.unauthenticated('token signing key unknown');
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return GatewayError.unauthenticated('token signature invalid');
    }
    return GatewayError.unauthenticated('token malformed');
  }
}

/**
 * The caller's groups: a JSON array of strings, or one string of groups separated by ASCII
 * spaces (U+0020 only, as OAuth's `scope` claim). Any other character, including other Unicode
 * whitespace, is part of a group name, so no group is ever made out of part of another.
 */
export function groupsFromClaim(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((g): g is string => typeof g === 'string');
  if (typeof claim === 'string') return claim.split(' ').filter(Boolean);
  return [];
}

/** The first top-level key that appears twice in a JSON object text jose already parsed. */
export function repeatedClaim(json: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < json.length; i += 1) {
    const char = json[i];
    if (char === '"') {
      const start = i;
      for (i += 1; json[i] !== '"'; i += 1) if (json[i] === '\\') i += 1;
      let next = i + 1;
      while (
        json[next] === ' ' ||
        json[next] === '\t' ||
        json[next] === '\n' ||
        json[next] === '\r'
      ) {
        next += 1;
      }
      if (depth === 1 && json[next] === ':') {
        const key = JSON.parse(json.slice(start, i + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
      }
    } else if (char === '{' || char === '[') {
      depth += 1;
    } else if (char === '}' || char === ']') {
      depth -= 1;
    }
  }
  return undefined;
}

/**
 * Issuer, subject and groups name the caller in audit rows, logs and cache keys. A control
 * character there forges lines in whatever prints them; a lone surrogate cannot be stored or
 * hashed faithfully, so two subjects could read back the same. Such a token names nobody.
 */
function uncleanIdentityClaim(payload: JWTPayload, groupsClaim: string): string | undefined {
  const groups = payload[groupsClaim];
  const claims: [string, unknown][] = [
    ['iss', payload.iss],
    ['sub', payload.sub],
    ...(Array.isArray(groups) ? groups : [groups]).map((g): [string, unknown] => [groupsClaim, g]),
  ];
  for (const [claim, value] of claims) {
    const flaw = typeof value === 'string' ? identityFlaw(value) : undefined;
    if (flaw !== undefined) return `token claim ${claim} ${flaw}`;
  }
  return undefined;
}

/**
 * The key set could not be had (unreachable, slow, not 200, not a key set): that is the
 * identity provider's failure, not the caller's, and must not read as "your token is bad".
 */
function isKeySetFailure(error: unknown): boolean {
  return (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC') ||
    (error instanceof TypeError && /fetch failed/i.test(error.message))
  );
}

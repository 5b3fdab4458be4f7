import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DevIdentityProvider } from './dev-identity-provider.js';
import { projectById, type FixtureProject } from './fixtures.js';
import { header, isNonEmptyString, pick } from './request-input.js';
import type { SimulatedRoute } from './simulated-route.js';
import { IamCode, SimulatorError } from './simulator-error.js';

/** The one service account the simulated IAM knows (password and agency modes). */
export const SERVICE_ACCOUNT = {
  domainName: 'sim-domain',
  userName: 'sim-service',
  password: 'sim-password',
} as const;

export const DEFAULT_IAM_TOKEN_LIFETIME_SECONDS = 24 * 60 * 60;

/** Real IAM tokens are several KB of base64 starting `MII`; clients must cope with the size. */
const TOKEN_RANDOM_BYTES = 1500;

const stableId = (seed: string): string =>
  createHash('sha256').update(seed).digest('hex').slice(0, 32);

interface IamDomain {
  id: string;
  name: string;
}

const domainNamed = (name: string): IamDomain => ({ id: stableId(`domain:${name}`), name });

/** The account that owns every fixture project. */
const SIM_DOMAIN = domainNamed(SERVICE_ACCOUNT.domainName);

interface IamUser {
  id: string;
  name: string;
  domain: IamDomain;
  [extra: string]: unknown;
}

export interface IamIdentity {
  methods: string[];
  user: IamUser;
  assumedBy?: IamUser;
}

export interface IamToken {
  value: string;
  projectId: string;
  methods: string[];
  expiresAtMs: number;
  /** The `{"token":{...}}` body IAM answers with when issuing or validating the token. */
  body: { token: Record<string, unknown> };
}

/** IAM's timestamps carry microseconds: `2024-05-01T08:00:00.000000Z`. */
const iamTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');

export class IamTokenStore {
  readonly #tokens = new Map<string, IamToken>();
  #lifetimeSeconds = DEFAULT_IAM_TOKEN_LIFETIME_SECONDS;

  issue(identity: IamIdentity, project: FixtureProject): IamToken {
    const issuedAtMs = Date.now();
    const expiresAtMs = issuedAtMs + this.#lifetimeSeconds * 1000;
    const value = `MII${randomBytes(TOKEN_RANDOM_BYTES).toString('base64url')}`;
    const token: IamToken = {
      value,
      projectId: project.id,
      methods: identity.methods,
      expiresAtMs,
      body: {
        token: {
          expires_at: iamTime(expiresAtMs),
          issued_at: iamTime(issuedAtMs),
          methods: identity.methods,
          catalog: [],
          project: { id: project.id, name: project.name, domain: SIM_DOMAIN },
          roles: [{ id: stableId('role:te_admin'), name: 'te_admin' }],
          user: identity.user,
          ...(identity.assumedBy ? { assumed_by: { user: identity.assumedBy } } : {}),
        },
      },
    };
    this.#tokens.set(value, token);
    return token;
  }

  /** The token if it was issued here, is not revoked and has not expired. */
  live(value: string | undefined): IamToken | undefined {
    if (value === undefined) return undefined;
    const token = this.#tokens.get(value);
    if (token !== undefined && token.expiresAtMs <= Date.now()) {
      this.#tokens.delete(value);
      return undefined;
    }
    return token;
  }

  /** Revoked tokens are forgotten, so nothing (not even a reset) brings them back. */
  revokeAll(): number {
    const revoked = this.#tokens.size;
    this.#tokens.clear();
    return revoked;
  }

  /** Lifetime of tokens issued from now on; tokens already issued keep theirs. */
  setLifetimeSeconds(seconds: number): void {
    this.#lifetimeSeconds = seconds;
  }

  /** Tokens stay valid across a reset, so a client's token cache is not invalidated by it. */
  reset(): void {
    this.#lifetimeSeconds = DEFAULT_IAM_TOKEN_LIFETIME_SECONDS;
  }
}

const badRequest = (message: string) => new SimulatorError(400, IamCode.BAD_REQUEST, message);
const unauthorized = (message: string) => new SimulatorError(401, IamCode.UNAUTHORIZED, message);

function scopedProject(body: unknown): FixtureProject {
  const projectId = pick(body, 'auth', 'scope', 'project', 'id');
  if (!isNonEmptyString(projectId)) throw badRequest('auth.scope.project.id is required');
  const project = projectById(projectId);
  if (project === undefined) {
    throw new SimulatorError(404, IamCode.NOT_FOUND, `Could not find project: ${projectId}.`);
  }
  return project;
}

function identityMethods(request: FastifyRequest): unknown {
  return pick(request.body, 'auth', 'identity', 'methods');
}

const methodsInclude = (methods: unknown, method: string): boolean =>
  Array.isArray(methods) && methods.includes(method);

export function iamRoutes(tokens: IamTokenStore, idp: DevIdentityProvider): SimulatedRoute[] {
  const answer = (token: IamToken, reply: FastifyReply) => {
    reply.code(201).header('x-subject-token', token.value);
    return token.body;
  };

  const passwordToken = (body: unknown) => {
    const user = pick(body, 'auth', 'identity', 'password', 'user');
    const matches =
      pick(user, 'name') === SERVICE_ACCOUNT.userName &&
      pick(user, 'password') === SERVICE_ACCOUNT.password &&
      pick(user, 'domain', 'name') === SERVICE_ACCOUNT.domainName;
    if (!matches) throw unauthorized('The username or password is wrong.');
    const project = scopedProject(body);
    return tokens.issue(
      {
        methods: ['password'],
        user: {
          id: stableId(`user:${SERVICE_ACCOUNT.userName}`),
          name: SERVICE_ACCOUNT.userName,
          domain: SIM_DOMAIN,
          password_expires_at: '',
        },
      },
      project,
    );
  };

  const agencyToken = (request: FastifyRequest) => {
    const caller = tokens.live(header(request, 'x-auth-token'));
    if (caller === undefined || !caller.methods.includes('password')) {
      throw unauthorized('The request you have made requires authentication.');
    }
    const domainName = pick(request.body, 'auth', 'identity', 'assume_role', 'domain_name');
    const agencyName = pick(request.body, 'auth', 'identity', 'assume_role', 'agency_name');
    if (!isNonEmptyString(domainName) || !isNonEmptyString(agencyName)) {
      throw badRequest('assume_role.domain_name and assume_role.agency_name are required');
    }
    const project = scopedProject(request.body);
    const agency = `${domainName}/${agencyName}`;
    return tokens.issue(
      {
        methods: ['assume_role'],
        user: { id: stableId(`agency:${agency}`), name: agency, domain: domainNamed(domainName) },
        assumedBy: caller.body.token.user as IamUser,
      },
      project,
    );
  };

  return [
    {
      method: 'POST',
      paths: ['/v3.0/OS-AUTH/id-token/tokens'],
      name: 'iam.oidc',
      handle: async (request, reply) => {
        const idpId = header(request, 'x-idp-id');
        if (!isNonEmptyString(idpId)) throw badRequest('The X-Idp-Id header is required.');
        const idToken = pick(request.body, 'auth', 'id_token', 'id');
        if (!isNonEmptyString(idToken)) throw badRequest('auth.id_token.id is required');
        const claims = await idp.verify(idToken).catch(() => undefined);
        const subject = claims?.sub;
        if (!isNonEmptyString(subject)) {
          throw unauthorized('The id_token is invalid or has expired.');
        }
        const project = scopedProject(request.body);
        const token = tokens.issue(
          {
            methods: ['mapped'],
            user: {
              id: stableId(`federated:${claims?.iss}#${subject}`),
              name: subject,
              domain: SIM_DOMAIN,
              'OS-FEDERATION': {
                identity_provider: { id: idpId },
                protocol: { id: 'oidc' },
                groups: [],
              },
            },
          },
          project,
        );
        return answer(token, reply);
      },
    },
    {
      method: 'POST',
      paths: ['/v3/auth/tokens'],
      name: (request) =>
        methodsInclude(identityMethods(request), 'assume_role') ? 'iam.assumeRole' : 'iam.password',
      handle: async (request, reply) => {
        const methods = identityMethods(request);
        if (methodsInclude(methods, 'assume_role')) return answer(agencyToken(request), reply);
        if (methodsInclude(methods, 'password')) return answer(passwordToken(request.body), reply);
        throw badRequest('auth.identity.methods must be ["password"] or ["assume_role"]');
      },
    },
    {
      method: 'GET',
      paths: ['/v3/auth/tokens'],
      name: 'iam.validate',
      handle: async (request, reply) => {
        if (tokens.live(header(request, 'x-auth-token')) === undefined) {
          throw unauthorized('The request you have made requires authentication.');
        }
        const subject = tokens.live(header(request, 'x-subject-token'));
        if (subject === undefined) {
          throw new SimulatorError(404, IamCode.NOT_FOUND, 'Could not find token.');
        }
        reply.header('x-subject-token', subject.value);
        return subject.body;
      },
    },
  ];
}

import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { DEV_GROUPS, FLEET_INSTANCES, FLEET_SIZE, INSTANCES, PROJECTS } from './fixtures.js';
import {
  ROUTE_NAMES,
  SERVICE_ACCOUNT,
  startSimulator,
  type RunningSimulator,
} from './simulator.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const CN = PROJECTS.cnNorth4;
const AP = PROJECTS.apSoutheast1;
const PROD = INSTANCES.financeProd;

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; base?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${options.base ?? sim.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

const scope = (projectId: string) => ({ project: { id: projectId } });

const passwordBody = (projectId: string, password: string = SERVICE_ACCOUNT.password) => ({
  auth: {
    identity: {
      methods: ['password'],
      password: {
        user: {
          name: SERVICE_ACCOUNT.userName,
          password,
          domain: { name: SERVICE_ACCOUNT.domainName },
        },
      },
    },
    scope: scope(projectId),
  },
});

async function passwordToken(projectId: string = CN.id, base?: string): Promise<string> {
  const answer = await call('POST', '/v3/auth/tokens', { body: passwordBody(projectId), base });
  expect(answer.status).toBe(201);
  return answer.headers.get('x-subject-token') as string;
}

const oidcExchange = (idToken: string, projectId: string, idpId = 'corp-idp') =>
  call('POST', '/v3.0/OS-AUTH/id-token/tokens', {
    headers: idpId ? { 'x-idp-id': idpId } : {},
    body: { auth: { id_token: { id: idToken }, scope: scope(projectId) } },
  });

const lockPath = (projectId: string, instanceId: string, region = '') =>
  `${region ? `/${region}` : ''}/v3/${projectId}/instances/${instanceId}/backups/vault-lock`;

const putLock = (token: string, action: string, days: number, path = lockPath(CN.id, PROD.id)) =>
  call('PUT', path, {
    headers: { 'x-auth-token': token },
    body: { backup_vaultlock_info: { lock_retention_days: days, lock_policy: true }, action },
  });

const getLock = (token: string, path = lockPath(CN.id, PROD.id)) =>
  call('GET', path, { headers: { 'x-auth-token': token } });

const addFault = (fault: Record<string, unknown>) =>
  call('POST', '/__admin/faults', { body: fault });

describe('development identity provider', () => {
  it('publishes discovery and a JWKS that verifies the tokens it mints', async () => {
    const discovery = await call('GET', '/idp/.well-known/openid-configuration');
    expect(discovery.body).toMatchObject({ issuer: sim.idpIssuer, jwks_uri: sim.jwksUrl });

    const minted = await call('POST', '/idp/dev/tokens', {
      body: { sub: 'alice', groups: ['dba'], extraClaims: { email: 'alice@example.com' } },
    });
    expect(minted.status).toBe(201);
    const { payload, protectedHeader } = await jwtVerify(
      minted.body.token as string,
      createRemoteJWKSet(new URL(sim.jwksUrl)),
      { issuer: sim.idpIssuer, audience: sim.audience },
    );
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: expect.any(String) });
    expect(payload).toMatchObject({ sub: 'alice', groups: ['dba'], email: 'alice@example.com' });
  });

  it('mints in process with defaults, and honours expiry, not-before, issuer and audience', async () => {
    const jwks = createRemoteJWKSet(new URL(sim.jwksUrl));
    const { payload } = await jwtVerify(await sim.mintToken(), jwks);
    expect(payload).toMatchObject({
      sub: 'dev-dba',
      groups: DEV_GROUPS,
      iss: sim.idpIssuer,
      aud: sim.audience,
    });

    await expect(
      jwtVerify(await sim.mintToken({ expiresInSeconds: -60 }), jwks),
    ).rejects.toBeInstanceOf(joseErrors.JWTExpired);
    await expect(
      jwtVerify(await sim.mintToken({ notBeforeSeconds: 3600 }), jwks),
    ).rejects.toMatchObject({ claim: 'nbf' });
    const other = await sim.mintToken({ issuer: 'https://elsewhere', audience: 'someone-else' });
    expect((await jwtVerify(other, jwks)).payload).toMatchObject({
      iss: 'https://elsewhere',
      aud: 'someone-else',
    });
  });

  it('refuses a malformed mint request', async () => {
    const answer = await call('POST', '/idp/dev/tokens', { body: { groups: 'dba' } });
    expect(answer.status).toBe(400);
  });
});

describe('IAM', () => {
  it('swaps an OIDC token for a project-scoped IAM token that names the region', async () => {
    const answer = await oidcExchange(await sim.mintToken({ sub: 'alice' }), AP.id);
    expect(answer.status).toBe(201);
    const token = answer.headers.get('x-subject-token') as string;
    expect(token).toMatch(/^MII[A-Za-z0-9_-]{1997,}$/);
    const body = answer.body.token as Record<string, unknown>;
    expect(body).toMatchObject({
      methods: ['mapped'],
      project: { id: AP.id, name: 'ap-southeast-1_finance' },
      user: { name: 'alice', 'OS-FEDERATION': { identity_provider: { id: 'corp-idp' } } },
    });
    const lifetime = Date.parse(body.expires_at as string) - Date.parse(body.issued_at as string);
    expect(lifetime).toBe(DAY_MS);
    expect(body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('refuses OIDC exchanges with a bad token, no identity provider or an unknown project', async () => {
    const good = await sim.mintToken();
    const tampered = `${good.slice(0, -4)}AAAA`;
    const expired = await sim.mintToken({ expiresInSeconds: -1 });
    for (const idToken of [tampered, expired, 'not-a-jwt']) {
      const answer = await oidcExchange(idToken, CN.id);
      expect(answer).toMatchObject({ status: 401, body: { error_code: 'IAM.0003' } });
      expect(JSON.stringify(answer.body)).not.toContain(idToken);
    }
    expect((await oidcExchange(good, CN.id, '')).status).toBe(400);
    expect((await oidcExchange(good, 'ffffffffffffffffffffffffffffffff')).body).toMatchObject({
      error_code: 'IAM.0004',
    });
  });

  it('refuses a token minted by another simulator', async () => {
    const other = await startSimulator({ port: 0 });
    try {
      const foreign = await other.mintToken({ issuer: sim.idpIssuer });
      expect((await oidcExchange(foreign, CN.id)).status).toBe(401);
      const foreignIam = await passwordToken(CN.id, other.url);
      expect((await getLock(foreignIam)).status).toBe(401);
    } finally {
      await other.close();
    }
  });

  it('issues service account tokens for the right password only', async () => {
    const token = await passwordToken(CN.id);
    expect(token.startsWith('MII')).toBe(true);
    const wrong = await call('POST', '/v3/auth/tokens', { body: passwordBody(CN.id, 'guess') });
    expect(wrong).toMatchObject({ status: 401, body: { error_code: 'IAM.0003' } });
    expect(wrong.headers.get('x-subject-token')).toBeNull();
  });

  it('assumes an agency with a service account token', async () => {
    const body = {
      auth: {
        identity: {
          methods: ['assume_role'],
          assume_role: { domain_name: 'ops', agency_name: 'dba-agency' },
        },
        scope: scope(CN.id),
      },
    };
    const agency = await call('POST', '/v3/auth/tokens', {
      headers: { 'x-auth-token': await passwordToken() },
      body,
    });
    expect(agency).toMatchObject({
      status: 201,
      body: { token: { methods: ['assume_role'], user: { name: 'ops/dba-agency' } } },
    });
    expect((await getLock(agency.headers.get('x-subject-token') as string)).status).toBe(200);

    const federated = (await oidcExchange(await sim.mintToken(), CN.id)).headers.get(
      'x-subject-token',
    );
    const refused: Record<string, string>[] = [{}, { 'x-auth-token': federated as string }];
    for (const headers of refused) {
      expect((await call('POST', '/v3/auth/tokens', { headers, body })).status).toBe(401);
    }
    expect(sim.calls()['iam.assumeRole']).toBe(3);
  });

  it('validates tokens', async () => {
    const auth = await passwordToken();
    const subject = await passwordToken(AP.id);
    const valid = await call('GET', '/v3/auth/tokens', {
      headers: { 'x-auth-token': auth, 'x-subject-token': subject },
    });
    expect(valid).toMatchObject({ status: 200, body: { token: { project: { id: AP.id } } } });
    const unknown = await call('GET', '/v3/auth/tokens', {
      headers: { 'x-auth-token': auth, 'x-subject-token': 'MIIunknown' },
    });
    expect(unknown.status).toBe(404);
    const unauthenticated = await call('GET', '/v3/auth/tokens', {
      headers: { 'x-subject-token': subject },
    });
    expect(unauthenticated.status).toBe(401);
  });

  it('issues tokens with the lifetime set through the admin API', async () => {
    await call('POST', '/__admin/iam/token-lifetime', { body: { seconds: 60 } });
    const body = (await call('POST', '/v3/auth/tokens', { body: passwordBody(CN.id) })).body
      .token as Record<string, string>;
    expect(Date.parse(body.expires_at) - Date.parse(body.issued_at)).toBe(60_000);

    await call('POST', '/__admin/iam/token-lifetime', { body: { seconds: 0 } });
    expect((await getLock(await passwordToken())).status).toBe(401);

    sim.reset();
    expect((await getLock(await passwordToken())).status).toBe(200);
  });
});

describe('TaurusDB', () => {
  let token: string;
  beforeEach(async () => {
    token = await passwordToken(CN.id);
  });

  it('shows instance details and pages tags', async () => {
    const details = await call('GET', `/v3.1/${CN.id}/instances/${PROD.id}`, {
      headers: { 'x-auth-token': token },
    });
    expect(details.body.instance).toMatchObject({
      id: PROD.id,
      name: PROD.name,
      enterprise_project_id: PROD.enterpriseProjectId,
      tags: PROD.tags,
      region: CN.region,
    });
    const tagsPath = `/v3/${CN.id}/instances/${PROD.id}/tags`;
    const page = await call('GET', `${tagsPath}?offset=1&limit=1`, {
      headers: { 'x-auth-token': token },
    });
    expect(page.body).toEqual({ total_count: 2, tags: [PROD.tags[1]] });
    const bad = await call('GET', `${tagsPath}?limit=0`, { headers: { 'x-auth-token': token } });
    expect(bad).toMatchObject({ status: 400, body: { error_code: 'DBS.200001' } });
  });

  describe('the instance list', () => {
    const FLEET = PROJECTS.cnNorth4Fleet;
    const list = async (query: string, projectId = FLEET.id, listToken?: string) =>
      call('GET', `/v3.1/${projectId}/instances${query}`, {
        headers: { 'x-auth-token': listToken ?? (await passwordToken(projectId)) },
      });

    it('pages the instances of the project in a stable order', async () => {
      const first = await list('?offset=0&limit=100');
      expect(first.status).toBe(200);
      expect(first.body.total_count).toBe(FLEET_SIZE);
      const instances = first.body.instances as Record<string, unknown>[];
      expect(instances).toHaveLength(100);
      expect(instances[0]).toMatchObject({
        id: FLEET_INSTANCES[0].id,
        name: FLEET_INSTANCES[0].name,
        status: FLEET_INSTANCES[0].status,
        enterprise_project_id: FLEET_INSTANCES[0].enterpriseProjectId,
        tags: FLEET_INSTANCES[0].tags,
      });
      const last = await list(`?offset=${FLEET_SIZE - 3}&limit=100`);
      expect((last.body.instances as { id: string }[]).map((i) => i.id)).toEqual(
        FLEET_INSTANCES.slice(-3).map((i) => i.id),
      );
      const beyond = await list(`?offset=${FLEET_SIZE}`);
      expect(beyond.body).toEqual({ instances: [], total_count: FLEET_SIZE });
    });

    it('keeps only the instances that carry every tag of the filter', async () => {
      const answer = await list(`?limit=100&tags=${encodeURIComponent('env=prod,tier=gold')}`);
      const wanted = FLEET_INSTANCES.filter(
        (i) =>
          i.tags.some((t) => t.key === 'env' && t.value === 'prod') &&
          i.tags.some((t) => t.key === 'tier' && t.value === 'gold'),
      );
      expect(wanted.length).toBeGreaterThan(0);
      expect(answer.body.total_count).toBe(wanted.length);
      expect((answer.body.instances as { id: string }[]).map((i) => i.id)).toEqual(
        wanted.map((i) => i.id),
      );
    });

    it('lists only the project the token is scoped to', async () => {
      const answer = await list('', CN.id);
      expect(answer.body.total_count).toBe((answer.body.instances as { id: string }[]).length);
      expect((answer.body.instances as { id: string }[]).map((i) => i.id)).toContain(PROD.id);
      const foreign = await list('', FLEET.id, await passwordToken(CN.id));
      expect(foreign).toMatchObject({ status: 401, body: { error_code: 'DBS.280004' } });
    });

    it.each([
      ['?limit=0', 'limit'],
      ['?limit=101', 'limit'],
      ['?offset=-1', 'offset'],
      ['?tags=env', 'tags'],
      ['?tags=env%3D', 'tags'],
      ['?tags=%3Dprod', 'tags'],
    ])('refuses %s as TaurusDB does', async (query, field) => {
      const answer = await list(query);
      expect(answer).toMatchObject({ status: 400, body: { error_code: 'DBS.200001' } });
      expect(answer.body.error_msg).toContain(field);
    });

    it('takes injected faults like every other route', async () => {
      await addFault({ route: 'taurusdb.listInstances', status: 503, times: 1 });
      expect((await list('')).status).toBe(503);
      expect((await list('')).status).toBe(200);
    });
  });

  it('enables a lock once, extends it only upwards and never disables it', async () => {
    expect((await getLock(token)).body).toEqual({
      backup_vaultlock_info: {
        lock_retention_days: 0,
        lock_policy: false,
        lock_start_time: null,
        lock_end_time: null,
      },
    });
    expect((await putLock(token, 'extend', 30)).body).toMatchObject({ error_code: 'DBS.280352' });

    expect(await putLock(token, 'ENABLE', 30)).toMatchObject({
      status: 200,
      body: { result: 'success' },
    });
    const enabled = (await getLock(token)).body.backup_vaultlock_info as Record<string, number>;
    expect(enabled).toMatchObject({ lock_retention_days: 30, lock_policy: true });
    expect(enabled.lock_end_time - enabled.lock_start_time).toBe(30 * DAY_MS);

    expect(await putLock(token, 'enable', 60)).toMatchObject({
      status: 400,
      body: { error_code: 'DBS.280351' },
    });
    for (const days of [10, 30]) {
      expect(await putLock(token, 'extend', days)).toMatchObject({
        status: 400,
        body: { error_code: 'DBS.200001', error_msg: expect.stringContaining('only grow') },
      });
    }
    expect((await putLock(token, 'Extend', 90)).status).toBe(200);
    const extended = (await getLock(token)).body.backup_vaultlock_info as Record<string, number>;
    expect(extended).toMatchObject({
      lock_retention_days: 90,
      lock_start_time: enabled.lock_start_time,
    });
    expect(extended.lock_end_time - extended.lock_start_time).toBe(90 * DAY_MS);
  });

  it('refuses malformed lock changes', async () => {
    const path = lockPath(CN.id, PROD.id);
    const bodies = [
      { backup_vaultlock_info: { lock_retention_days: 0, lock_policy: true }, action: 'enable' },
      {
        backup_vaultlock_info: { lock_retention_days: 36501, lock_policy: true },
        action: 'enable',
      },
      { backup_vaultlock_info: { lock_retention_days: 1.5, lock_policy: true }, action: 'enable' },
      { backup_vaultlock_info: { lock_retention_days: 10, lock_policy: false }, action: 'enable' },
      { backup_vaultlock_info: { lock_retention_days: 10, lock_policy: true }, action: 'disable' },
      { action: 'enable' },
    ];
    for (const body of bodies) {
      const answer = await call('PUT', path, { headers: { 'x-auth-token': token }, body });
      expect(answer).toMatchObject({ status: 400, body: { error_code: 'DBS.200001' } });
    }
    expect((await putLock(token, 'enable', 36500)).status).toBe(200);
  });

  it('validates ids and finds only the project’s own instances', async () => {
    const cases: [string, number, string][] = [
      [lockPath('short', PROD.id), 400, 'DBS.200001'],
      [lockPath(CN.id, PROD.id.replace('in07', 'in08')), 400, 'DBS.200001'],
      [lockPath(CN.id, `${PROD.id.slice(0, 31)}%2Fin07`), 400, 'DBS.200001'],
      [lockPath(CN.id, `0${PROD.id.slice(1)}`), 404, 'DBS.200823'],
      [lockPath(CN.id, INSTANCES.apacProd.id), 404, 'DBS.200823'],
    ];
    for (const [path, status, code] of cases) {
      expect(await getLock(token, path)).toMatchObject({ status, body: { error_code: code } });
    }
  });

  it('answers 401 to missing, unknown, foreign-project and revoked tokens', async () => {
    for (const badToken of ['', 'MIInot-issued-here', await passwordToken(AP.id)]) {
      expect(await getLock(badToken)).toMatchObject({
        status: 401,
        body: { error_code: 'DBS.280004' },
      });
    }
    expect((await getLock(token)).status).toBe(200);
    expect((await call('POST', '/__admin/tokens/revoke')).body).toMatchObject({
      revoked: expect.any(Number),
    });
    expect((await getLock(token)).status).toBe(401);
    sim.reset();
    expect((await getLock(token)).status).toBe(401);
  });

  it('serves each project under its own region prefix only', async () => {
    expect((await getLock(token, lockPath(CN.id, PROD.id, 'cn-north-4'))).status).toBe(200);
    expect((await putLock(token, 'enable', 7, lockPath(CN.id, PROD.id, 'cn-north-4'))).status).toBe(
      200,
    );
    const wrong = await getLock(token, lockPath(CN.id, PROD.id, 'ap-southeast-1'));
    expect(wrong).toMatchObject({ status: 404, body: { error_code: 'DBS.280238' } });

    const apToken = await passwordToken(AP.id);
    const apacDetails = `/ap-southeast-1/v3.1/${AP.id}/instances/${INSTANCES.apacProd.id}`;
    expect((await call('GET', apacDetails, { headers: { 'x-auth-token': apToken } })).status).toBe(
      200,
    );
  });
});

describe('fault injection', () => {
  const instancePath = `/v3.1/${CN.id}/instances/${PROD.id}`;
  let token: string;
  const details = () => call('GET', instancePath, { headers: { 'x-auth-token': token } });

  beforeEach(async () => {
    token = await passwordToken();
  });

  it('answers with an injected status, code and Retry-After', async () => {
    expect(
      (await addFault({ route: 'taurusdb.instance', status: 409, errorCode: 'DBS.212033' })).status,
    ).toBe(201);
    expect(await details()).toMatchObject({
      status: 409,
      body: { error_code: 'DBS.212033', error_msg: 'injected fault' },
    });
    await call('DELETE', '/__admin/faults');
    await addFault({ route: 'taurusdb.instance', retryAfterSeconds: 3 });
    const throttled = await details();
    expect(throttled).toMatchObject({ status: 429, body: { error_code: 'APIGW.0308' } });
    expect(throttled.headers.get('retry-after')).toBe('3');
  });

  it('sends a forged code and an oversized error_msg with control characters as given', async () => {
    await addFault({
      route: 'taurusdb.instance',
      status: 400,
      errorCode: 'GW.VALIDATION',
      errorMessage: 'a\nb\u001b',
      errorMessageBytes: 900 * 1024,
    });
    const answer = await details();
    expect(answer.status).toBe(400);
    const body = answer.body as { error_code: string; error_msg: string };
    expect(body.error_code).toBe('GW.VALIDATION');
    expect(body.error_msg).toHaveLength(900 * 1024);
    expect(body.error_msg.startsWith('a\nb\u001ba\nb')).toBe(true);
  });

  it('describes the instance as another one, or with other tags, when asked', async () => {
    const tags = [
      { key: 'env', value: 'dev' },
      { key: 'env', value: 'prod' },
    ];
    await addFault({
      route: 'taurusdb.instance',
      describeAs: { id: INSTANCES.marketingProd.id, project_id: AP.id, tags },
      times: 1,
    });
    expect((await details()).body).toMatchObject({
      instance: {
        id: INSTANCES.marketingProd.id,
        project_id: AP.id,
        name: PROD.name,
        enterprise_project_id: PROD.enterpriseProjectId,
        tags,
      },
    });
    expect((await details()).body).toMatchObject({ instance: { id: PROD.id, tags: PROD.tags } });
  });

  it('applies queued faults in order, each for its number of calls', async () => {
    await addFault({ route: 'taurusdb.instance', status: 503, times: 2 });
    await addFault({ route: 'taurusdb.instance', status: 502, times: 1 });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await details()).status);
    expect(statuses).toEqual([503, 503, 502, 200]);
  });

  it('delays a call, then answers it normally', async () => {
    await addFault({ route: 'iam.password', latencyMs: 150, times: 1 });
    const started = performance.now();
    const answer = await call('POST', '/v3/auth/tokens', { body: passwordBody(CN.id) });
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(answer.status).toBe(201);
  });

  it('cuts the connection mid-response', async () => {
    await addFault({ route: 'taurusdb.putLock', reset: true, times: 1 });
    const response = () =>
      fetch(`${sim.url}${lockPath(CN.id, PROD.id)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-auth-token': token },
        body: JSON.stringify({
          backup_vaultlock_info: { lock_retention_days: 5, lock_policy: true },
          action: 'enable',
        }),
      }).then((r) => r.text());
    await expect(response()).rejects.toThrow();
    await expect(response()).resolves.toContain('success');
  });

  it('sends malformed and oversized bodies', async () => {
    await addFault({ route: 'taurusdb.getLock', malformed: true, times: 1 });
    await addFault({ route: 'taurusdb.getLock', oversizedBytes: 2_000_000, times: 1 });
    const fetchLock = () =>
      fetch(`${sim.url}${lockPath(CN.id, PROD.id)}`, { headers: { 'x-auth-token': token } });
    const malformed = await fetchLock();
    expect(malformed.status).toBe(200);
    await expect(malformed.json()).rejects.toThrow('JSON');
    const oversized = await fetchLock();
    expect((await oversized.text()).length).toBeGreaterThanOrEqual(2_000_000);
  });

  it('answers with a given body, as a success or with a status, lone surrogates kept', async () => {
    const hostile = { instance: { id: PROD.id, tags: [{ key: 'env', value: 'pr\ud800od' }] } };
    await addFault({ route: 'taurusdb.instance', body: hostile, times: 1 });
    await addFault({
      route: 'taurusdb.instance',
      status: 404,
      body: { error_code: 'DBS.280238', error_msg: 'gone \udc00' },
      times: 1,
    });
    const success = await details();
    expect(success.status).toBe(200);
    expect(success.body).toEqual(hostile);
    const refusal = await details();
    expect(refusal).toMatchObject({ status: 404, body: { error_msg: 'gone \udc00' } });
  });

  it('refuses faults it cannot apply', async () => {
    for (const fault of [
      { route: 'taurusdb.nope', status: 500 },
      { route: 'taurusdb.instance' },
      { route: 'taurusdb.instance', status: 200 },
      { route: 'taurusdb.instance', latencyMs: -1 },
      { route: 'taurusdb.instance', stauts: 500 },
      { route: 'taurusdb.getLock', describeAs: { id: 'x' } },
      { route: 'taurusdb.instance', describeAs: { name: 'x' } },
      { route: 'taurusdb.instance', describeAs: { tags: [{ key: 'env' }] } },
      { route: 'taurusdb.instance', status: 400, errorMessage: 1 },
    ]) {
      expect(await addFault(fault)).toMatchObject({
        status: 400,
        body: { error_code: 'SIM.BAD_REQUEST' },
      });
    }
  });

  it('does not hold a closing simulator open with a pending delay', async () => {
    const other = await startSimulator({ port: 0 });
    await call('POST', '/__admin/faults', {
      base: other.url,
      body: { route: 'idp.jwks', latencyMs: 600_000 },
    });
    const pending = fetch(`${other.url}/idp/jwks`).then((response) => response.text());
    while (other.calls()['idp.jwks'] === 0) await new Promise((resolve) => setImmediate(resolve));
    await other.close();
    await expect(pending).rejects.toThrow();
  });
});

describe('call counting and reset', () => {
  it('counts every request that reached a route, faulted or refused, and resets', async () => {
    const token = await passwordToken();
    await addFault({ route: 'taurusdb.getLock', status: 500, times: 1 });
    await getLock(token);
    await getLock('MIIbad');
    await getLock(token);
    await call('POST', '/v3/auth/tokens', { body: passwordBody(CN.id, 'wrong') });
    const unparsable = await fetch(`${sim.url}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"auth":',
    });
    expect(unparsable.status).toBe(400);
    await sim.mintToken();

    const counts = (await call('GET', '/__admin/calls')).body;
    expect(Object.keys(counts).sort()).toEqual([...ROUTE_NAMES].sort());
    expect(counts).toMatchObject({ 'taurusdb.getLock': 3, 'iam.password': 3, 'idp.mint': 0 });
    expect(sim.calls()).toEqual(counts);

    await putLock(token, 'enable', 10);
    await addFault({ route: 'taurusdb.getLock', status: 500 });
    expect((await call('POST', '/__admin/reset')).status).toBe(200);
    expect(Object.values(sim.calls()).every((count) => count === 0)).toBe(true);
    expect((await getLock(token)).body).toMatchObject({
      backup_vaultlock_info: { lock_policy: false },
    });
  });
});

describe('trace contexts', () => {
  it('keeps the traceparent and baggage each call arrived with, null without, until reset', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const baggage = 'tenant=blue';
    const token = await passwordToken();
    await call('GET', lockPath(CN.id, PROD.id), {
      headers: { 'x-auth-token': token, traceparent, baggage },
    });
    await getLock(token);

    const expected = [
      { route: 'iam.password', traceparent: null, baggage: null },
      { route: 'taurusdb.getLock', traceparent, baggage },
      { route: 'taurusdb.getLock', traceparent: null, baggage: null },
    ];
    expect((await call('GET', '/__admin/trace-contexts')).body).toEqual(expected);
    expect(sim.traceContexts()).toEqual(expected);
    sim.reset();
    expect(sim.traceContexts()).toEqual([]);
  });
});

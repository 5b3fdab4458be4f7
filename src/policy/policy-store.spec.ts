import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { ServiceAccount, type IamConfig } from '../auth/iam/iam.config.js';
import { PolicyAdmission } from './policy-admission.js';
import { PolicyFileError, policyVersionOf } from './policy-loader.js';
import { PolicyStore } from './policy-store.js';

const policyText = (maxRetentionDays: number) =>
  stringify({
    version: 1,
    rules: [
      {
        id: 'finance-dba',
        groups: ['dba'],
        projects: ['*'],
        enterpriseProjects: ['0'],
        tags: { env: ['prod'] },
        actions: ['enable', 'extend', 'show'],
        maxRetentionDays,
      },
    ],
  });

const BAD_TEXT = policyText(36501);

/** A policy whose second rule has its lock changes applied later, by the gateway itself. */
const deferredText = (safeguards: Record<string, unknown>) =>
  stringify({
    version: 1,
    rules: [
      {
        id: 'finance-dba',
        groups: ['dba'],
        projects: ['*'],
        enterpriseProjects: ['0'],
        tags: {},
        actions: ['show'],
      },
      {
        id: 'four-eyes',
        groups: ['dba'],
        projects: ['*'],
        enterpriseProjects: ['*'],
        tags: {},
        actions: ['enable'],
        ...safeguards,
      },
    ],
  });

const OIDC: IamConfig = { endpoint: 'http://127.0.0.1:9', mode: 'oidc', idpId: 'idp' };
const OIDC_WITH_SERVICE_ACCOUNT: IamConfig = {
  ...OIDC,
  serviceAccount: new ServiceAccount('acme', 'gateway', 'secret'),
};
const NO_SERVICE_IDENTITY =
  "rules[1] (four-eyes): approval and coolingOff are applied later with the gateway's service identity, " +
  'which IAM_TOKEN_MODE=oidc has only with IAM_DOMAIN_NAME, IAM_USER_NAME, IAM_PASSWORD set: ' +
  'set them to a service account, or use IAM_TOKEN_MODE password or agency';

/** Waits for something the file watcher does in the background; fails the test if it never happens. */
async function eventually(condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200 && !(await condition()); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  expect(await condition()).toBe(true);
}

describe('PolicyStore', () => {
  let dir: string;
  let file: string;
  let metrics: GatewayMetrics;
  const started: PolicyStore[] = [];

  const reloads = async (result: string) =>
    (await metrics.policyReloads.get()).values.find((value) => value.labels.result === result)
      ?.value ?? 0;

  const startStore = async (): Promise<PolicyStore> => {
    const store = new PolicyStore({ file }, metrics, new PolicyAdmission(OIDC));
    await store.onModuleInit();
    started.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'policy-store-'));
    file = join(dir, 'policy.yaml');
    metrics = new GatewayMetrics();
    await writeFile(file, policyText(3650));
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((store) => store.onModuleDestroy()));
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the file at start and is ready', async () => {
    const store = new PolicyStore({ file }, metrics, new PolicyAdmission(OIDC));
    expect(store.isReady()).toBe(false);
    await store.onModuleInit();
    started.push(store);

    expect(store.isReady()).toBe(true);
    expect(store.current()).toMatchObject({
      version: policyVersionOf(policyText(3650)),
      source: file,
      rules: [expect.objectContaining({ id: 'finance-dba', maxRetentionDays: 3650 })],
    });
  });

  it('refuses to start with a bad file, naming the file, rule and field', async () => {
    await writeFile(file, BAD_TEXT);
    const store = new PolicyStore({ file }, metrics, new PolicyAdmission(OIDC));
    const failure = store.onModuleInit();

    await expect(failure).rejects.toThrow(PolicyFileError);
    await expect(failure).rejects.toThrow(
      `Policy file ${file} is invalid:\n  rules[0] (finance-dba).maxRetentionDays: must be an integer between 1 and 36500`,
    );
    expect(store.isReady()).toBe(false);
  });

  it('refuses to start without the file', async () => {
    await rm(file);
    await expect(
      new PolicyStore({ file }, metrics, new PolicyAdmission(OIDC)).onModuleInit(),
    ).rejects.toThrow(`Policy file ${file} is invalid:\n  cannot be read (ENOENT)`);
  });

  it('refuses a file that is not UTF-8', async () => {
    await writeFile(file, Buffer.from([0x76, 0x65, 0xff, 0xfe]));
    await expect(
      new PolicyStore({ file }, metrics, new PolicyAdmission(OIDC)).onModuleInit(),
    ).rejects.toThrow('is not valid UTF-8');
  });

  it('refuses a bad file on reload and keeps the policy in force', async () => {
    const store = await startStore();
    const inForce = store.current();
    await writeFile(file, BAD_TEXT);

    expect(await store.reload()).toBe('refused');
    expect(store.current()).toBe(inForce);
    expect(store.isReady()).toBe(true);
    expect(await reloads('refused')).toBeGreaterThanOrEqual(1);
    expect(await reloads('applied')).toBe(0);
  });

  it('applies a good file on reload, with a new version', async () => {
    const store = await startStore();
    const before = store.current().version;
    await writeFile(file, policyText(30));

    expect(await store.reload()).toBe('applied');
    expect(store.current().version).toBe(policyVersionOf(policyText(30)));
    expect(store.current().version).not.toBe(before);
    expect(store.current().rules[0].maxRetentionDays).toBe(30);
    expect(await reloads('applied')).toBeGreaterThanOrEqual(1);
    expect(await store.reload()).toBe('unchanged');
  });

  it('reloads on SIGHUP', async () => {
    const store = await startStore();
    await writeFile(file, policyText(30));

    process.emit('SIGHUP');
    // Reloads run in order: the SIGHUP one has already applied the file when this one reads it.
    expect(await store.reload()).toBe('unchanged');
    expect(store.current().version).toBe(policyVersionOf(policyText(30)));
  });

  it('reloads when an editor replaces the file, and refuses a bad replacement', async () => {
    const store = await startStore();
    const replace = async (text: string) => {
      await writeFile(join(dir, '.policy.yaml.tmp'), text);
      await rename(join(dir, '.policy.yaml.tmp'), file);
    };

    await replace(policyText(30));
    await eventually(() => store.current().version === policyVersionOf(policyText(30)));

    await replace(BAD_TEXT);
    await eventually(async () => (await reloads('refused')) >= 1);
    expect(store.current().version).toBe(policyVersionOf(policyText(30)));
  });

  it('stops listening for SIGHUP and watching the file when destroyed', async () => {
    const listeners = process.listenerCount('SIGHUP');
    const store = await startStore();
    expect(process.listenerCount('SIGHUP')).toBe(listeners + 1);

    await store.onModuleDestroy();
    started.splice(started.indexOf(store), 1);
    expect(process.listenerCount('SIGHUP')).toBe(listeners);

    await writeFile(file, policyText(30));
    process.emit('SIGHUP');
    // Had the SIGHUP listener stayed, its reload would have applied the file before this one.
    expect(await store.reload()).toBe('applied');
  });

  describe('a policy whose lock changes the gateway applies later', () => {
    const storeWith = (iam: IamConfig) =>
      new PolicyStore({ file }, metrics, new PolicyAdmission(iam));

    it.each([
      ['approval', { approval: { required: 2, approverGroups: ['dba-lead'] } }],
      ['a cooling-off', { coolingOff: '72h' }],
    ])(
      'is refused at start in oidc mode without a service account when it asks %s',
      async (_name, safeguards) => {
        await writeFile(file, deferredText(safeguards));
        const store = storeWith(OIDC);
        const failure = store.onModuleInit();

        await expect(failure).rejects.toThrow(PolicyFileError);
        await expect(failure).rejects.toThrow(
          `Policy file ${file} is invalid:\n  ${NO_SERVICE_IDENTITY}`,
        );
        expect(store.isReady()).toBe(false);
      },
    );

    it('is put in force with a service account, or when its cooling-off is 0s', async () => {
      await writeFile(file, deferredText({ approval: { required: 1, approverGroups: ['a'] } }));
      const withAccount = storeWith(OIDC_WITH_SERVICE_ACCOUNT);
      await withAccount.onModuleInit();
      started.push(withAccount);
      expect(withAccount.current().rules[1].approval?.required).toBe(1);

      await writeFile(file, deferredText({ coolingOff: '0s' }));
      const noWait = storeWith(OIDC);
      await noWait.onModuleInit();
      started.push(noWait);
      expect(noWait.current().rules[1].coolingOff).toBe('0s');
    });

    it('is refused on reload, keeping the policy in force', async () => {
      const store = await startStore();
      const inForce = store.current();
      await writeFile(file, deferredText({ coolingOff: '90s' }));

      process.emit('SIGHUP');
      expect(await store.reload()).toBe('refused');
      expect(store.current()).toBe(inForce);
      expect(await reloads('refused')).toBeGreaterThanOrEqual(2);
    });
  });
});

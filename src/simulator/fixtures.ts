/**
 * The simulator's world: projects (each in one region) and instances with enterprise projects
 * and tags. The bundled example policy (`config/policy.example.yaml`) and the tests are written
 * against these values.
 */
export interface FixtureProject {
  id: string;
  /** What IAM names the project in `token.project.name`: `<region>` or `<region>_<name>`. */
  name: string;
  region: string;
}

export interface FixtureInstance {
  id: string;
  projectId: string;
  name: string;
  status: string;
  enterpriseProjectId: string;
  tags: { key: string; value: string }[];
}

export const ENTERPRISE_PROJECTS = {
  default: '0',
  finance: '5a1e0c9e-7d4b-4c2a-9f3e-1b2c3d4e5f60',
  marketing: '7c3d2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09',
  research: '9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a',
} as const;

export const PROJECTS = {
  cnNorth4: { id: '0a1b2c3d4e5f60718293a4b5c6d7e8f9', name: 'cn-north-4', region: 'cn-north-4' },
  apSoutheast1: {
    id: '1b2c3d4e5f60718293a4b5c6d7e8f90a',
    name: 'ap-southeast-1_finance',
    region: 'ap-southeast-1',
  },
  /** The fleet: FLEET_INSTANCES and nothing else, so a listing of it is known in full. */
  cnNorth4Fleet: {
    id: '2c3d4e5f60718293a4b5c6d7e8f90a1b',
    name: 'cn-north-4_fleet',
    region: 'cn-north-4',
  },
} satisfies Record<string, FixtureProject>;

const tags = (entries: Record<string, string>) =>
  Object.entries(entries).map(([key, value]) => ({ key, value }));

export const INSTANCES = {
  /** finance, env=prod, owner set: allowed for dba by the example policy */
  financeProd: {
    id: 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in07',
    projectId: PROJECTS.cnNorth4.id,
    name: 'finance-prod-01',
    status: 'normal',
    enterpriseProjectId: ENTERPRISE_PROJECTS.finance,
    tags: tags({ env: 'prod', owner: 'alice' }),
  },
  /** finance, env=staging: allowed */
  financeStaging: {
    id: 'b1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in07',
    projectId: PROJECTS.cnNorth4.id,
    name: 'finance-staging-01',
    status: 'normal',
    enterpriseProjectId: ENTERPRISE_PROJECTS.finance,
    tags: tags({ env: 'staging', owner: 'bob' }),
  },
  /** marketing enterprise project: denied by enterprise project */
  marketingProd: {
    id: 'c1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in07',
    projectId: PROJECTS.cnNorth4.id,
    name: 'marketing-prod-01',
    status: 'normal',
    enterpriseProjectId: ENTERPRISE_PROJECTS.marketing,
    tags: tags({ env: 'prod', owner: 'carol' }),
  },
  /** finance, env=dev: denied by tag value */
  financeDev: {
    id: 'd1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in07',
    projectId: PROJECTS.cnNorth4.id,
    name: 'finance-dev-01',
    status: 'normal',
    enterpriseProjectId: ENTERPRISE_PROJECTS.finance,
    tags: tags({ env: 'dev', owner: 'dave' }),
  },
  /** finance, env=prod but no owner tag: denied by missing tag key */
  financeUnowned: {
    id: 'e1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in07',
    projectId: PROJECTS.cnNorth4.id,
    name: 'finance-prod-unowned',
    status: 'normal',
    enterpriseProjectId: ENTERPRISE_PROJECTS.finance,
    tags: tags({ env: 'prod' }),
  },
  /** default enterprise project in the other region: allowed */
  apacProd: {
    id: 'f1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6in07',
    projectId: PROJECTS.apSoutheast1.id,
    name: 'apac-prod-01',
    status: 'normal',
    enterpriseProjectId: ENTERPRISE_PROJECTS.default,
    tags: tags({ env: 'prod', owner: 'erin' }),
  },
} satisfies Record<string, FixtureInstance>;

/**
 * Finance production instances for load: the benchmark gives each of its connections its own
 * instances, so that the ever-growing retentions one connection sends reach TaurusDB in order.
 */
export const LOAD_INSTANCES: readonly FixtureInstance[] = Array.from(
  { length: 64 },
  (_, index) => ({
    id: `10ad${String(index).padStart(28, '0')}in07`,
    projectId: PROJECTS.cnNorth4.id,
    name: `load-${index}`,
    status: 'normal',
    enterpriseProjectId: ENTERPRISE_PROJECTS.finance,
    tags: tags({ env: 'prod', owner: 'load' }),
  }),
);

/** How many instances the fleet project holds: enough for several pages of the upstream list. */
export const FLEET_SIZE = 500;

const FLEET_ENTERPRISE_PROJECTS = [
  ENTERPRISE_PROJECTS.finance,
  ENTERPRISE_PROJECTS.default,
  ENTERPRISE_PROJECTS.marketing,
  ENTERPRISE_PROJECTS.research,
];
const FLEET_ENVS = ['prod', 'staging', 'dev'];

/**
 * The instances of one project across enterprise projects and tag sets, each value a function
 * of the index so that a test can say which instances a filter picks: the enterprise project
 * cycles with the index (finance, default, marketing, research), `env` cycles every four
 * (prod, staging, dev), one instance in seven has no `owner`, and one in nine carries `tier=gold`.
 */
export const FLEET_INSTANCES: readonly FixtureInstance[] = Array.from(
  { length: FLEET_SIZE },
  (_, index) => ({
    id: `f1ee7${String(index).padStart(27, '0')}in07`,
    projectId: PROJECTS.cnNorth4Fleet.id,
    name: `fleet-${String(index).padStart(3, '0')}`,
    status: index % 25 === 24 ? 'backing up' : 'normal',
    enterpriseProjectId: FLEET_ENTERPRISE_PROJECTS[index % FLEET_ENTERPRISE_PROJECTS.length],
    tags: [
      { key: 'env', value: FLEET_ENVS[Math.floor(index / 4) % FLEET_ENVS.length] },
      ...(index % 7 === 0 ? [] : [{ key: 'owner', value: `team-${index % 5}` }]),
      ...(index % 9 === 0 ? [{ key: 'tier', value: 'gold' }] : []),
    ],
  }),
);

/** Groups the development identity provider puts in tokens it mints when none are asked for. */
export const DEV_GROUPS = ['dba', 'auditor'];

export const projectById = (id: string): FixtureProject | undefined =>
  Object.values<FixtureProject>(PROJECTS).find((project) => project.id === id);

/** Every instance, in the order TaurusDB's list call answers them. */
const ALL_INSTANCES: readonly FixtureInstance[] = [
  ...Object.values<FixtureInstance>(INSTANCES),
  ...LOAD_INSTANCES,
  ...FLEET_INSTANCES,
];

const instancesById = new Map(ALL_INSTANCES.map((instance) => [instance.id, instance]));

export const instanceById = (id: string): FixtureInstance | undefined => instancesById.get(id);

export const instancesOf = (projectId: string): FixtureInstance[] =>
  ALL_INSTANCES.filter((instance) => instance.projectId === projectId);

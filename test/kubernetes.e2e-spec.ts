import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { OPEN_ATTEMPTS_DRAIN_MS } from '../src/audit/audit-trail.js';
import { requireService } from '../src/common/testing/require-service.js';
import { DEFAULT_UPSTREAM_TIMEOUT_MS } from '../src/config/upstream.config.js';
import { parsePolicy } from '../src/policy/policy-loader.js';
import { tracingConfig } from '../src/tracing/tracing.config.js';
import { documentedVariables, healthRoutes, variablesRead } from './support/app-configuration.js';

// No cluster here: the manifests are rendered with `kubectl kustomize` and read, and what they
// say about the gateway is checked against the gateway's own code and README.

const KUSTOMIZATIONS = ['deploy/kubernetes/base', 'deploy/kubernetes/overlays/production'];

/** Values the README calls secret: they come from the Secret, never from a ConfigMap. */
const SECRETS = [
  'AUDIT_DATABASE_URL',
  'REDIS_URL',
  'TOKEN_CACHE_KEY',
  'IAM_PASSWORD',
  'NOTIFY_WEBHOOK_URL',
  'NOTIFY_WEBHOOK_SECRET',
];

interface Resource {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  // The parts of each kind that the checks read.
  spec: Record<string, unknown>;
}
interface Container {
  ports: { name: string; containerPort: number }[];
  env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }[];
  envFrom: { configMapRef: { name: string } }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  startupProbe?: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: {
    allowPrivilegeEscalation: boolean;
    readOnlyRootFilesystem: boolean;
    capabilities: { drop: string[] };
  };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot: boolean; runAsUser: number };
  containers: Container[];
  volumes: {
    name: string;
    configMap?: { name: string };
    emptyDir?: object;
    secret?: { secretName: string };
    persistentVolumeClaim?: { claimName: string };
  }[];
}

const kubectl = await requireService('kubectl kustomize', 'PATH', async () => {
  const version = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error(version.error?.message ?? version.stderr);
});
const describeWithKubectl = kubectl ? describe : describe.skip;

function render(kustomization: string): Resource[] {
  const rendered = spawnSync('kubectl', ['kustomize', kustomization], { encoding: 'utf8' });
  if (rendered.status !== 0)
    throw new Error(`kubectl kustomize ${kustomization}: ${rendered.stderr}`);
  return parseAllDocuments(rendered.stdout).map((document) => document.toJS() as Resource);
}

/** `768Mi`, `1Gi`, `512M` in bytes. */
function bytes(quantity: string): number {
  const [, amount, unit = ''] = /^(\d+)([KMG]i?)?$/.exec(quantity) ?? [];
  if (amount === undefined) throw new Error(`unreadable quantity ${quantity}`);
  const units: Record<string, number> = {
    '': 1,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
  };
  return Number(amount) * units[unit];
}

/** The heap limit `npm run start:prod` and the image give Node, in bytes. */
function heapLimitBytes(): number {
  const scripts = (
    JSON.parse(readFileSync('package.json', 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts;
  const megabytes = /--max-old-space-size=(\d+)/.exec(scripts['start:prod'])?.[1];
  return Number(megabytes) * 2 ** 20;
}

describeWithKubectl.each(KUSTOMIZATIONS)('Kubernetes manifests: %s', (kustomization) => {
  const resources = render(kustomization);
  const one = (kind: string): Resource => {
    const found = resources.filter((resource) => resource.kind === kind);
    expect([kind, found.length]).toEqual([kind, 1]);
    return found[0];
  };
  const deployment = one('Deployment');
  const template = deployment.spec.template as {
    metadata: { labels: Record<string, string> };
    spec: PodSpec;
  };
  const pod = template.spec;
  const [container] = pod.containers;
  const configMap = (name: string): Resource => {
    const found = resources.find((r) => r.kind === 'ConfigMap' && r.metadata.name === name);
    if (!found) throw new Error(`no ConfigMap ${name}`);
    return found;
  };
  const settings = Object.assign(
    {},
    ...container.envFrom.map((source) => configMap(source.configMapRef.name).data),
  ) as Record<string, string>;
  const variables = [...Object.keys(settings), ...container.env.map((variable) => variable.name)];
  const port = container.ports.find((p) => p.name === 'http')?.containerPort;
  const matchesPods = (selector: { matchLabels: Record<string, string> }) =>
    Object.entries(selector.matchLabels).every(
      ([label, value]) => template.metadata.labels[label] === value,
    );

  it('sets only variables the gateway reads, each in the README configuration reference', () => {
    const documented = documentedVariables();
    for (const variable of variables) {
      expect([variable, variablesRead.has(variable), documented.has(variable)]).toEqual([
        variable,
        true,
        true,
      ]);
    }
    expect(new Set(variables).size).toBe(variables.length);
  });

  it('takes every credential and key from the Secret, none from a ConfigMap or a literal', () => {
    for (const secret of SECRETS) {
      expect([secret, settings[secret]]).toEqual([secret, undefined]);
      const variable = container.env.find((v) => v.name === secret);
      expect([secret, variable?.valueFrom?.secretKeyRef?.key]).toEqual([secret, secret]);
    }
    expect(container.env.filter((variable) => variable.value !== undefined)).toEqual([]);
  });

  it('listens on the port it is configured with, and probes the routes the gateway serves', () => {
    expect(String(port)).toBe(settings.PORT);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container.startupProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
    for (const path of ['/health/live', '/health/ready']) expect(healthRoutes()).toContain(path);
  });

  it('gives a pod longer to stop than its pause, the audit drain and one upstream deadline', () => {
    const [, pause] =
      /^sleep (\d+)$/.exec(container.lifecycle?.preStop?.exec?.command.join(' ') ?? '') ?? [];
    const upstreamTimeoutMs = Number(settings.UPSTREAM_TIMEOUT_MS ?? DEFAULT_UPSTREAM_TIMEOUT_MS);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      Number(pause) * 1000 + OPEN_ATTEMPTS_DRAIN_MS + upstreamTimeoutMs,
    );
  });

  it('runs as a non-root user on a read-only root file system, writing only to emptyDirs and the checkpoint volume', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    for (const mount of container.volumeMounts.filter((m) => m.readOnly !== true)) {
      const volume = pod.volumes.find((v) => v.name === mount.name);
      // Checkpoint files must outlive the pod, on a claim every replica shares; all else is scratch.
      if (mount.mountPath === settings.AUDIT_CHECKPOINT_DIR) {
        expect(volume?.persistentVolumeClaim?.claimName).toBe(
          one('PersistentVolumeClaim').metadata.name,
        );
      } else {
        expect([mount.mountPath, volume?.emptyDir]).toEqual([mount.mountPath, expect.any(Object)]);
      }
    }
  });

  it('mounts the checkpoint signing key read-only from its own Secret, where AUDIT_SIGNING_KEY_FILE names it', () => {
    const mount = container.volumeMounts.find((m) =>
      settings.AUDIT_SIGNING_KEY_FILE?.startsWith(`${m.mountPath}/`),
    );
    expect(mount?.readOnly).toBe(true);
    const volume = pod.volumes.find((v) => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('vault-lock-gateway-signing-key');
  });

  it('asks for resources, with a memory limit above the heap limit Node runs with', () => {
    expect(Object.keys(container.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(bytes(container.resources.limits.memory)).toBeGreaterThan(heapLimitBytes());
  });

  it('mounts the policy ConfigMap as the directory POLICY_FILE is in, and the policy is valid', () => {
    const mount = container.volumeMounts.find((m) => m.mountPath === dirname(settings.POLICY_FILE));
    // A subPath mount never sees the ConfigMap change; a directory mount does, and the
    // gateway's watch on that directory reloads the policy.
    expect(mount).toEqual({
      name: mount?.name,
      mountPath: dirname(settings.POLICY_FILE),
      readOnly: true,
    });
    const volume = pod.volumes.find((v) => v.name === mount?.name);
    const policy = configMap(volume?.configMap?.name ?? '');
    // No hash suffix: an edited policy reaches running pods without a rollout.
    expect(policy.metadata.name).toBe('vault-lock-gateway-policy');
    const text = policy.data?.[basename(settings.POLICY_FILE)] ?? '';
    expect(() => parsePolicy(text, `${kustomization} policy`)).not.toThrow();
  });

  it('serves the pods through a Service on their named port', () => {
    const service = one('Service').spec as {
      selector: Record<string, string>;
      ports: { targetPort: string }[];
    };
    expect(matchesPods({ matchLabels: service.selector })).toBe(true);
    expect(service.ports.map((p) => p.targetPort)).toEqual(['http']);
  });

  it('keeps replicas through disruptions and scaling: a PDB that allows one out, an HPA from two', () => {
    const budget = one('PodDisruptionBudget').spec as {
      maxUnavailable: number;
      selector: { matchLabels: Record<string, string> };
    };
    const autoscaler = one('HorizontalPodAutoscaler').spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
    };
    expect(matchesPods(budget.selector)).toBe(true);
    expect(budget.maxUnavailable).toBe(1);
    expect(autoscaler.scaleTargetRef).toMatchObject({
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    expect(autoscaler.minReplicas).toBeGreaterThanOrEqual(2);
    expect(autoscaler.maxReplicas).toBeGreaterThan(autoscaler.minReplicas);
    expect(deployment.spec.replicas).toBe(autoscaler.minReplicas);
  });

  it('lets in only the gateway port, and lets out DNS, PostgreSQL, Redis, HTTPS and traces', () => {
    const policy = networkPolicy(resources);
    expect(matchesPods(policy.podSelector)).toBe(true);
    expect(policy.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(policy.ingress.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual(['http']);
    expect(policy.egress.flatMap((rule) => rule.ports.map((p) => p.port)).sort()).toEqual(
      [443, 53, 53, 5432, 6379, OTLP_HTTP_PORT].sort(),
    );
  });
});

interface NetworkPolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  policyTypes: string[];
  ingress: { ports: { port: string | number }[] }[];
  egress: {
    to?: { namespaceSelector?: { matchLabels: Record<string, string> } }[];
    ports: { port: number }[];
  }[];
}

/** OTLP over HTTP, the only protocol the gateway's exporter speaks. */
const OTLP_HTTP_PORT = 4318;

/** Runs `read` with the environment's OTEL_* variables as `settings` has them, and only those. */
function withOpenTelemetrySettings<T>(settings: Record<string, string>, read: () => T): T {
  const saved = { ...process.env };
  try {
    for (const name of Object.keys(process.env)) {
      if (name.startsWith('OTEL_')) delete process.env[name];
    }
    for (const [name, value] of Object.entries(settings)) {
      if (name.startsWith('OTEL_')) process.env[name] = value;
    }
    return read();
  } finally {
    process.env = saved;
  }
}

function networkPolicy(resources: Resource[]): NetworkPolicySpec {
  const policies = resources.filter((resource) => resource.kind === 'NetworkPolicy');
  expect(policies).toHaveLength(1);
  return policies[0].spec as unknown as NetworkPolicySpec;
}

describeWithKubectl('Kubernetes production overlay', () => {
  const resources = render('deploy/kubernetes/overlays/production');
  const settings = Object.assign(
    {},
    ...resources
      .filter((r) => r.kind === 'ConfigMap' && r.metadata.name.startsWith('vault-lock-gateway-env'))
      .map((r) => r.data),
  ) as Record<string, string>;

  it('configures what the gateway requires in production', () => {
    expect(settings.NODE_ENV).toBe('production');
    for (const variable of ['TAURUSDB_ENDPOINT', 'IAM_ENDPOINT', 'AUTH_JWKS_URL', 'AUTH_ISSUER']) {
      expect([variable, settings[variable]]).toEqual([
        variable,
        expect.stringMatching(/^https:\/\//),
      ]);
    }
    expect(settings.IAM_IDP_ID).toEqual(expect.any(String));
    expect(settings.TRUST_PROXY).toEqual(expect.any(String));
  });

  it('sends a share of traces to a collector on OTLP/HTTP in a namespace the network policy lets the pods reach', () => {
    const tracing = withOpenTelemetrySettings(settings, () => tracingConfig());
    expect(tracing).toMatchObject({
      tracesUrl: `${settings.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`,
      sampler: 'parentbased_traceidratio',
      samplerRatio: expect.any(Number),
    });
    expect(tracing.samplerRatio).toBeLessThan(1);
    const endpoint = new URL(settings.OTEL_EXPORTER_OTLP_ENDPOINT);
    expect(endpoint.protocol).toBe('http:');
    expect(Number(endpoint.port)).toBe(OTLP_HTTP_PORT);
    // A Service's cluster name: <service>.<namespace>.svc
    const [, namespace] = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc$/.exec(endpoint.hostname) ?? [];
    const reachable = networkPolicy(resources).egress.filter(
      (rule) =>
        rule.ports.some((p) => p.port === OTLP_HTTP_PORT) &&
        rule.to?.some(
          (peer) =>
            peer.namespaceSelector?.matchLabels['kubernetes.io/metadata.name'] === namespace,
        ),
    );
    expect([namespace, reachable.length]).toEqual([expect.any(String), 1]);
  });

  it('runs an image from a registry at a fixed tag', () => {
    const deployment = resources.find((r) => r.kind === 'Deployment');
    const image = (
      deployment?.spec.template as { spec: PodSpec & { containers: { image: string }[] } }
    ).spec.containers[0].image;
    expect(image).toMatch(/^[\w.-]+\.[\w.-]+\/[\w/-]+:\d+\.\d+\.\d+$/);
  });
});

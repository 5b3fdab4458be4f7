import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus series the gateway exposes, in one registry per application instance so
 * that several apps in one test process never share counters.
 */
@Injectable()
export class GatewayMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'gateway_http_requests_total',
    help: 'Requests answered, by channel, route and status',
    labelNames: ['channel', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'Time from request to answer, by channel and route',
    labelNames: ['channel', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly operationDuration = new Histogram({
    name: 'gateway_operation_duration_seconds',
    help: 'Time from request to answer, by channel, operation (REST: method and route; GraphQL: operation type and root fields) and outcome (ok or the GW.*/DBS.* error code); its _count is the requests answered',
    labelNames: ['channel', 'operation', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly iamExchanges = new Counter({
    name: 'gateway_iam_token_exchanges_total',
    help: 'IAM token exchanges sent to IAM, by mode and outcome',
    labelNames: ['mode', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly iamTokenCache = new Counter({
    name: 'gateway_iam_token_cache_total',
    help: 'IAM token cache lookups and evictions, by result (hit, miss, shared, refresh, evict)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly upstreamRequests = new Counter({
    name: 'gateway_upstream_requests_total',
    help: 'Calls to TaurusDB and IAM, by service, operation and status (or error kind)',
    labelNames: ['service', 'operation', 'status'] as const,
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'gateway_upstream_request_duration_seconds',
    help: 'Duration of calls to TaurusDB and IAM',
    labelNames: ['service', 'operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly auditWrites = new Counter({
    name: 'gateway_audit_writes_total',
    help: 'Audit store writes, by kind (attempt, outcome, sealed) and result (ok, error)',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });

  readonly auditWriteDuration = new Histogram({
    name: 'gateway_audit_write_duration_seconds',
    help: 'Time until an audit write is durable, by kind (attempt, outcome, sealed)',
    labelNames: ['kind'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly auditOpenAttempts = new Gauge({
    name: 'gateway_audit_open_attempts',
    help: 'Audit attempts this replica wrote and has not sealed yet (their upstream call is in flight)',
    registers: [this.registry],
  });

  readonly auditSealedLate = new Counter({
    name: 'gateway_audit_sealed_late_total',
    help: 'Open audit rows closed later than by their own call: as unknown when their writer died first; with what their call knew when its seal (SQLite, tried again every 30 s) or (PostgreSQL) its attempt or seal write failed',
    registers: [this.registry],
  });

  readonly auditCommitBatch = new Histogram({
    name: 'gateway_audit_commit_batch_size',
    help: 'Audit writes per group commit (one fsync each)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });

  readonly policyDecisions = new Counter({
    name: 'gateway_policy_decisions_total',
    help: 'Policy decisions, by result and matching rule',
    labelNames: ['allowed', 'rule'] as const,
    registers: [this.registry],
  });

  readonly policyReloads = new Counter({
    name: 'gateway_policy_reloads_total',
    help: 'Policy reloads, by result (applied, refused)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly circuitBreakerState = new Gauge({
    name: 'gateway_circuit_breaker_state',
    help: 'Circuit to each TaurusDB base URL: 0 closed, 1 open (calls answer 503), 2 half-open (one trial call)',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });

  readonly rateLimitRefusals = new Counter({
    name: 'gateway_rate_limit_refusals_total',
    help: 'Calls refused with 429 GW.RATE_LIMITED by the per-principal limits, by kind (mutations, reads)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly idempotentReplays = new Counter({
    name: 'gateway_idempotent_replays_total',
    help: 'Stored answers replayed for a repeated idempotency key, instead of running the call again',
    registers: [this.registry],
  });

  readonly lockRequestTransitions = new Counter({
    name: 'gateway_lock_request_transitions_total',
    help: 'Lock requests entering each state (creation counts as entering its first state), by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly redisFallbacks = new Counter({
    name: 'gateway_redis_fallbacks_total',
    help: 'Operations served from in-process state because Redis was unavailable, by use',
    labelNames: ['use'] as const,
    registers: [this.registry],
  });

  /**
   * The age in seconds of the newest audit checkpoint (null before the first), read at each
   * scrape: the checkpoint writer sets it to a read of the store, so every replica reports the
   * one chain's checkpoints, whichever replica wrote them.
   */
  auditCheckpointAgeSeconds: () => Promise<number | null> = () => Promise.resolve(null);

  readonly auditCheckpointAge = new Gauge({
    name: 'vault_lock_audit_checkpoint_age_seconds',
    help: 'Seconds since the newest signed audit checkpoint; absent before the first. Alert when above two AUDIT_CHECKPOINT_INTERVAL_SECONDS',
    registers: [this.registry],
    collect: async () => {
      const age = await this.auditCheckpointAgeSeconds().catch(() => null);
      this.auditCheckpointAge.reset();
      if (age !== null) this.auditCheckpointAge.set(age);
    },
  });

  readonly noncompliantInstances = new Gauge({
    name: 'vault_lock_noncompliant_instances',
    help: 'Instances a minRetentionDays rule covers whose lock is off, shorter, or unreadable, by project (COMPLIANCE_PROJECTS)',
    labelNames: ['project'] as const,
    registers: [this.registry],
  });

  readonly notifications = new Counter({
    name: 'gateway_notifications_total',
    help: 'Lock request notifications to the webhook, by result (delivered, failed, dropped, abandoned)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

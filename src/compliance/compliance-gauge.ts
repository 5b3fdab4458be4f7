import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { LockRequestStore } from '../lock-requests/lock-request-store.js';
import { hasServiceIdentity, iamConfig, type IamConfig } from '../auth/iam/iam.config.js';
import { Principal } from '../domain/principal.js';
import type { TaurusDbCaller } from '../taurusdb/taurusdb.js';
import { complianceConfig, type ComplianceConfig } from './compliance.config.js';
import { ComplianceService } from './compliance.service.js';

/**
 * The gateway's own identity: its calls carry the service identity (the service account's or
 * agency's IAM token), so this principal never needs a token of its own.
 */
const GATEWAY_PRINCIPAL = new Principal('vault-lock-gateway', 'compliance', [], '');

/** Held by the one replica that reads the projects' locks for the gauge. */
export const COMPLIANCE_LEASE = 'compliance-gauge';
/** How often each replica takes or renews the lease; the holder keeps it for three of these. */
export const COMPLIANCE_TICK_MS = 60_000;

/**
 * Refreshes `vault_lock_noncompliant_instances{project}` for COMPLIANCE_PROJECTS at start and
 * every COMPLIANCE_INTERVAL_MINUTES, one project after another, in the background. A project
 * that cannot be assessed keeps its last value and the failure is logged.
 *
 * Reading every lock of a project is the costly part, so across replicas only the holder of the
 * `compliance-gauge` lease does it. Every replica ticks each minute: the holder renews the lease
 * (also while a refresh runs, however long TaurusDB takes), the others find it held. A replica
 * without the lease exports no value and drops the one it had, so that a stale count never
 * outlives its turn; a refresh that ends after the lease was lost publishes nothing. A stopping
 * holder gives the lease up, and one that dies is replaced once its lease runs out (three
 * ticks); either way the next holder refreshes at once.
 */
@Injectable()
export class ComplianceGauge implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ComplianceGauge.name);
  private readonly holder = randomUUID();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private refreshing?: Promise<void>;
  /** This replica held the lease at its last tick. */
  private holding = false;
  /** Counts the turns this replica's holding changed: a refresh publishes only in its own. */
  private turn = 0;
  /** When each project's exported value was read (the read's start), in this holding turn. */
  private readonly assessedAtMs = new Map<string, number>();

  constructor(
    @Inject(complianceConfig.KEY) private readonly config: ComplianceConfig,
    @Inject(iamConfig.KEY) iam: IamConfig,
    private readonly compliance: ComplianceService,
    private readonly metrics: GatewayMetrics,
    private readonly leases: LockRequestStore,
    private readonly clock: Clock,
  ) {
    if (config.projects.length > 0 && !hasServiceIdentity(iam)) {
      throw new Error(
        'Invalid configuration:\n  COMPLIANCE_PROJECTS: the compliance gauge reads locks with the ' +
          "gateway's own IAM identity, which IAM_TOKEN_MODE oidc has only with a service account: " +
          'set IAM_DOMAIN_NAME, IAM_USER_NAME and IAM_PASSWORD, use password or agency mode, or ' +
          'leave COMPLIANCE_PROJECTS unset',
      );
    }
  }

  onApplicationBootstrap(): void {
    if (this.config.projects.length === 0) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), COMPLIANCE_TICK_MS);
    this.timer.unref();
  }

  /** Before the store closes: the work under way ends, and the lease is given up for the next. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    await this.refreshed();
    if (this.holding) {
      const now = this.clock.now().toISOString();
      await this.leases
        .claimLease(COMPLIANCE_LEASE, this.holder, now, now)
        .catch((error: unknown) =>
          this.logger.warn(`the compliance gauge's lease was not given up: ${messageOf(error)}`),
        );
    }
  }

  /**
   * Takes or renews the lease, and as its holder refreshes the projects whose value is an interval
   * old or missing (one that could not be assessed is tried again on the next tick); no refresh
   * starts while one is under way. A tick still running is joined.
   */
  tick(): Promise<void> {
    this.ticking ??= this.renewAndRefresh().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  /** Resolves once the refresh under way, if any, has ended. */
  refreshed(): Promise<void> {
    return this.refreshing ?? Promise.resolve();
  }

  private async renewAndRefresh(): Promise<void> {
    const now = this.clock.now();
    let held: boolean;
    try {
      held = await this.leases.claimLease(
        COMPLIANCE_LEASE,
        this.holder,
        now.toISOString(),
        new Date(now.getTime() + 3 * COMPLIANCE_TICK_MS).toISOString(),
      );
    } catch (error) {
      // Not renewed: another replica may take the lease once it runs out, so this one stops.
      this.logger.warn(`the compliance gauge's lease could not be taken: ${messageOf(error)}`);
      held = false;
    }
    if (held !== this.holding) {
      this.holding = held;
      this.turn += 1;
      this.metrics.noncompliantInstances.reset();
      this.assessedAtMs.clear();
    }
    if (!held || this.refreshing !== undefined) return;
    const staleBeforeMs = now.getTime() - this.config.intervalMinutes * 60_000;
    const due = this.config.projects.filter(
      (projectId) => (this.assessedAtMs.get(projectId) ?? -Infinity) <= staleBeforeMs,
    );
    if (due.length === 0) return;
    this.refreshing = this.refresh(due, this.turn).finally(() => {
      this.refreshing = undefined;
    });
  }

  /** Publishes what it reads only while this replica still holds the lease it started under. */
  private async refresh(projects: string[], turn: number): Promise<void> {
    for (const projectId of projects) {
      const startedMs = this.clock.nowMs();
      const noncompliant = await this.assess(projectId);
      if (noncompliant === undefined || turn !== this.turn) continue;
      this.metrics.noncompliantInstances.set({ project: projectId }, noncompliant);
      this.assessedAtMs.set(projectId, startedMs);
    }
  }

  /** How many of the project's covered instances are not compliant; undefined when unknown. */
  private async assess(projectId: string): Promise<number | undefined> {
    // The service identity travels with the context to every TaurusDB call the report makes.
    const ctx: CallContext & TaurusDbCaller = {
      requestId: randomUUID(),
      correlationId: null,
      channel: 'rest',
      principal: GATEWAY_PRINCIPAL,
      callerAddress: '-',
      identity: 'service',
    };
    try {
      const entries = await this.compliance.reportForService(ctx, projectId);
      return entries.filter((entry) => !entry.compliant).length;
    } catch (error) {
      this.logger.warn(
        `compliance of project ${projectId} could not be assessed; the gauge keeps its last value: ${messageOf(error)}`,
      );
      return undefined;
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

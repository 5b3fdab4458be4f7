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
 * `compliance-gauge` lease does it; the others export no value, and one that loses the lease
 * drops its own, so that a stale count never outlives its replica's turn. A holder that stops is
 * replaced within three ticks, and the new one refreshes at once.
 */
@Injectable()
export class ComplianceGauge implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ComplianceGauge.name);
  private readonly holder = randomUUID();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  /** When this replica last refreshed the gauge as the holder; unset while it exports nothing. */
  private refreshedAtMs?: number;

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

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  /**
   * Takes or renews the lease; as its holder, refreshes every project once an interval has
   * passed since the last refresh, and without it exports nothing. A tick still running is
   * joined, not doubled.
   */
  tick(): Promise<void> {
    this.ticking ??= this.leaseAndRefresh().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async leaseAndRefresh(): Promise<void> {
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
      this.logger.warn(`the compliance gauge's lease could not be taken: ${messageOf(error)}`);
      return;
    }
    if (!held) {
      if (this.refreshedAtMs !== undefined) this.metrics.noncompliantInstances.reset();
      this.refreshedAtMs = undefined;
      return;
    }
    const intervalMs = this.config.intervalMinutes * 60_000;
    if (this.refreshedAtMs !== undefined && now.getTime() - this.refreshedAtMs < intervalMs) return;
    this.refreshedAtMs = now.getTime();
    for (const projectId of this.config.projects) await this.refresh(projectId);
  }

  private async refresh(projectId: string): Promise<void> {
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
      const noncompliant = entries.filter((entry) => !entry.compliant).length;
      this.metrics.noncompliantInstances.set({ project: projectId }, noncompliant);
    } catch (error) {
      this.logger.warn(
        `compliance of project ${projectId} could not be assessed; the gauge keeps its last value: ${messageOf(error)}`,
      );
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

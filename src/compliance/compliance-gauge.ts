import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { CallContext } from '../common/call-context.js';
import { GatewayMetrics } from '../common/gateway-metrics.js';
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

/**
 * Refreshes `vault_lock_noncompliant_instances{project}` for COMPLIANCE_PROJECTS at start and
 * every COMPLIANCE_INTERVAL_MINUTES, one project after another, in the background. A project
 * that cannot be assessed keeps its last value and the failure is logged.
 */
@Injectable()
export class ComplianceGauge implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ComplianceGauge.name);
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;

  constructor(
    @Inject(complianceConfig.KEY) private readonly config: ComplianceConfig,
    @Inject(iamConfig.KEY) iam: IamConfig,
    private readonly compliance: ComplianceService,
    private readonly metrics: GatewayMetrics,
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
    this.refreshing = this.refreshAll();
    this.timer = setInterval(() => {
      this.refreshing ??= this.refreshAll();
    }, this.config.intervalMinutes * 60_000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
  }

  /** Every configured project once; a refresh still running is joined, not doubled. */
  async refreshAll(): Promise<void> {
    try {
      for (const projectId of this.config.projects) await this.refresh(projectId);
    } finally {
      this.refreshing = undefined;
    }
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
        `compliance of project ${projectId} could not be assessed; the gauge keeps its last value: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }
}

import { Inject, Injectable } from '@nestjs/common';
import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { authConfig, type AuthConfig } from '../auth/auth.config.js';
import type { CallContext } from '../common/call-context.js';
import { Clock } from '../common/clock.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import type { VaultLockAction } from '../domain/actions.js';
import type { BulkLockItem, BulkLockJob } from '../domain/bulk-lock-job.js';
import type { TagFilter } from '../domain/tag-filter.js';
import { TaurusDb } from '../taurusdb/taurusdb.js';
import { MAX_LIST_LIMIT } from '../taurusdb/taurusdb.types.js';
import { BulkJobStore } from './bulk-job-store.js';
import { BulkLockRunner } from './bulk-lock-runner.js';

/** More than this is not one change any more: split the selector. */
export const MAX_BULK_INSTANCES = 1000;

export interface BulkLockSelector {
  /** Any of these; filtered by the gateway, since TaurusDB's list has no such filter. */
  enterpriseProjectIds?: readonly string[];
  /** Every one of these; sent to TaurusDB's list. */
  tags?: readonly TagFilter[];
}

export interface BulkLockCommand {
  projectId: string;
  selector: BulkLockSelector;
  action: VaultLockAction;
  retentionDays: number;
  dryRun: boolean;
}

export interface BulkLockJobView extends BulkLockJob {
  items: BulkLockItem[];
}

/**
 * Bulk lock jobs (DESIGN §7): the selector is resolved once, when the job is made, by paging
 * TaurusDB's list with the caller's own identity; the items then run in the background
 * (BulkLockRunner), each through the single call's use case.
 *
 * Who may read a job: its creator and the auditor group. Anyone else hears 404, as for a job
 * that does not exist, so job ids tell nothing about other people's work.
 */
@Injectable()
export class BulkLocksService {
  constructor(
    private readonly store: BulkJobStore,
    private readonly taurusDb: TaurusDb,
    private readonly runner: BulkLockRunner,
    private readonly clock: Clock,
    @Inject(authConfig.KEY) private readonly auth: AuthConfig,
  ) {}

  /**
   * The job for this command. With an idempotency key, the creator's earlier job under that key
   * in the last 24 h when it asked for the same thing (whatever the fleet looks like now, and
   * without listing it again), else 422.
   */
  async create(
    ctx: CallContext,
    command: BulkLockCommand,
    idempotencyKey: string | null,
    keyName: string,
  ): Promise<BulkLockJobView> {
    const fingerprint = fingerprintOf(command);
    const earlier =
      idempotencyKey === null
        ? null
        : await this.store.byIdempotencyKey(
            ctx.principal.issuer,
            ctx.principal.subject,
            idempotencyKey,
            this.clock.now().toISOString(),
          );
    if (earlier !== null) return this.replayed(earlier, fingerprint, keyName);
    const instanceIds = await this.resolve(ctx, command.projectId, command.selector);
    const id = uuidv7();
    const job = await this.store.create(
      {
        id,
        projectId: command.projectId,
        action: command.action,
        retentionDays: command.retentionDays,
        dryRun: command.dryRun,
        creatorIss: ctx.principal.issuer,
        creatorSub: ctx.principal.subject,
        creatorGroups: ctx.principal.groups,
        channel: ctx.channel,
        callerAddress: ctx.callerAddress,
        requestId: ctx.requestId,
        idempotencyKey,
        fingerprint,
        createdAt: this.clock.now().toISOString(),
      },
      instanceIds,
    );
    // Another call under the same key may have made its job meanwhile: that one stands.
    if (job.id !== id) {
      return this.replayed(job, fingerprint, keyName);
    }
    this.runner.nudge();
    return { ...job, items: await this.store.items(job.id) };
  }

  /** The creator's earlier job under the same key: itself for the same request, else 422. */
  private async replayed(
    job: BulkLockJob,
    fingerprint: string,
    keyName: string,
  ): Promise<BulkLockJobView> {
    if (job.fingerprint !== fingerprint) {
      throw new GatewayError(
        GwCode.IDEMPOTENCY_KEY_REUSED,
        422,
        `${keyName}: already used by this caller for a different bulk job; use a new key`,
      );
    }
    return { ...job, items: await this.store.items(job.id) };
  }

  /** The job with its items, or null when there is none or the caller may not read it. */
  async find(ctx: CallContext, id: string): Promise<BulkLockJobView | null> {
    const job = await this.store.get(id);
    if (job === null || !this.mayRead(ctx, job)) return null;
    return { ...job, items: await this.store.items(id) };
  }

  async get(ctx: CallContext, id: string): Promise<BulkLockJobView> {
    const job = await this.find(ctx, id);
    if (job === null) throw new GatewayError(GwCode.NOT_FOUND, 404, `bulk job ${id} not found`);
    return job;
  }

  private mayRead(ctx: CallContext, job: BulkLockJob): boolean {
    const { principal } = ctx;
    return (
      (principal.issuer === job.creatorIss && principal.subject === job.creatorSub) ||
      principal.inGroup(this.auth.auditorGroup)
    );
  }

  /** Every instance of the project the selector picks, in TaurusDB's list order. */
  private async resolve(
    ctx: CallContext,
    projectId: string,
    selector: BulkLockSelector,
  ): Promise<string[]> {
    const picked: string[] = [];
    let offset = 0;
    let total = Infinity;
    while (offset < total) {
      const page = await this.taurusDb.listInstances(ctx, projectId, {
        offset,
        limit: MAX_LIST_LIMIT,
        tags: selector.tags ?? [],
      });
      total = page.totalCount;
      // A list shorter than its own total would otherwise be asked for the same offset forever.
      if (page.instances.length === 0) break;
      offset += page.instances.length;
      const wanted = selector.enterpriseProjectIds;
      for (const instance of page.instances) {
        if (wanted === undefined || wanted.includes(instance.enterpriseProjectId)) {
          picked.push(instance.id);
        }
      }
      if (picked.length > MAX_BULK_INSTANCES) {
        throw GatewayError.validation(
          'selector',
          `picks more than ${MAX_BULK_INSTANCES} instances; narrow it`,
        );
      }
    }
    return picked;
  }
}

function fingerprintOf(command: BulkLockCommand): string {
  return createHash('sha256')
    .update(canonicalize(command) ?? '')
    .digest('hex');
}

import { Injectable, Logger } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';
import type { AuditEvent } from '../audit/audit-record.js';
import { AuditTrail } from '../audit/audit-trail.js';
import { Clock } from '../common/clock.js';
import { BACKGROUND_PRINCIPAL } from '../domain/background-principal.js';
import { VAULT_LOCK_ACTIONS, type VaultLockAction } from '../domain/actions.js';
import { TaurusDb } from '../taurusdb/taurusdb.js';
import { backgroundCaller } from './background-caller.js';
import { lockSnapshotOf, settlementOf, UNDECIDED_REREAD_MS } from './lock-evidence.js';
import { Tracing } from '../tracing/tracing.js';

/** The attribute of a settlement's span: the `unknown` row it reads the lock for. */
const SETTLED_ROW_ATTRIBUTE = 'gateway.audit.settles_id';

/** Unknown rows looked at per pass, newest first. */
const SCAN_LIMIT = 500;
const PAGE = 100;

const isLockChange = (action: string): action is VaultLockAction =>
  (VAULT_LOCK_ACTIONS as readonly string[]).includes(action);

/**
 * A single call whose PUT may have reached TaurusDB but whose answer was lost is sealed
 * `unknown`, and sealed rows never change. This reads the lock and, where the lock proves what
 * happened (lock-evidence.ts), appends a `settle` row that names the unknown one
 * (`settles_audit_id`) and carries the proven outcome. Nothing is ever sent again to find out.
 *
 * Lock requests settle their own `execute` rows (LockRequestExecutor), knowing the lock as it
 * was before; this covers `enable` and `extend` rows. It runs on the replica that holds the
 * settlement lease, so that no unknown row is settled twice.
 */
@Injectable()
export class LostAnswerSettler {
  private readonly logger = new Logger(LostAnswerSettler.name);
  /** Rows known to be settled, so that a pass need not ask the store again. */
  private readonly settled = new Set<string>();
  /** Rows whose lock proved nothing, and when to read it again. */
  private readonly retryAt = new Map<string, number>();

  constructor(
    private readonly audit: AuditTrail,
    private readonly taurusDb: TaurusDb,
    private readonly clock: Clock,
    private readonly tracing: Tracing,
  ) {}

  /**
   * Settles what it can among the unknown rows sealed at least `settleAfterMs` ago (a PUT that
   * timed out may still be applied a little later); answers how many it settled. Before each
   * lock read, and again between the read and the row it writes, it asks `stillHolder` whether
   * this replica still holds the lease (a read can outlast it), so that no two replicas settle
   * one row.
   */
  async settlePass(settleAfterMs: number, stillHolder: () => Promise<boolean>): Promise<number> {
    const nowMs = this.clock.nowMs();
    let settledNow = 0;
    let cursor: string | undefined;
    for (let scanned = 0; scanned < SCAN_LIMIT; scanned += PAGE) {
      const page = await this.audit.list({ outcome: 'unknown' }, PAGE, cursor);
      for (const event of page.events) {
        if (await this.due(event, nowMs - settleAfterMs, nowMs)) {
          if (!(await stillHolder())) return settledNow;
          const settled = await this.tracing.inRootSpan(
            'settle unknown row',
            { [SETTLED_ROW_ATTRIBUTE]: event.id },
            () => this.settle(event, stillHolder),
          );
          if (settled) settledNow++;
        }
      }
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    return settledNow;
  }

  private async due(event: AuditEvent, sealedBeforeMs: number, nowMs: number): Promise<boolean> {
    if (!isLockChange(event.action) || event.dryRun || event.retentionDays === null) return false;
    if (this.settled.has(event.id) || (this.retryAt.get(event.id) ?? 0) > nowMs) return false;
    if (event.completedAt === null || Date.parse(event.completedAt) > sealedBeforeMs) return false;
    return !(await this.settledAlready(event));
  }

  /** Whether a `settle` row for `event` is in the trail, written by any replica. */
  private async settledAlready(event: AuditEvent): Promise<boolean> {
    const settles = await this.audit.list({ settlesAuditId: event.id }, 1);
    if (settles.events.length === 0) return false;
    this.settled.add(event.id);
    return true;
  }

  private async settle(event: AuditEvent, stillHolder: () => Promise<boolean>): Promise<boolean> {
    const startedMs = this.clock.monotonicMs();
    const requestId = uuidv7();
    const info = await this.taurusDb.showLock(backgroundCaller(requestId), event);
    const asked = { action: event.action as VaultLockAction, retentionDays: event.retentionDays! };
    const settlement = settlementOf(asked, null, lockSnapshotOf(info));
    if (settlement.outcome === 'undecided') {
      this.retryAt.set(event.id, this.clock.nowMs() + UNDECIDED_REREAD_MS);
      return false;
    }
    // The lease may have lapsed during the read, and another replica settled the row meanwhile.
    if (!(await stillHolder()) || (await this.settledAlready(event))) return false;
    await this.audit.recordSealed(
      {
        requestId,
        correlationId: null,
        channel: 'scheduler',
        principalIss: BACKGROUND_PRINCIPAL.issuer,
        principalSub: BACKGROUND_PRINCIPAL.subject,
        callerAddress: BACKGROUND_PRINCIPAL.callerAddress,
        projectId: event.projectId,
        instanceId: event.instanceId,
        action: 'settle',
        retentionDays: event.retentionDays,
        dryRun: false,
        decisionAllowed: true,
        decisionRule: event.decisionRule,
        decisionReasons: [settlement.reason],
        policyVersion: event.policyVersion,
        lockRequestId: event.lockRequestId,
        settlesAuditId: event.id,
      },
      {
        outcome: settlement.outcome,
        durationMs: Math.round(this.clock.monotonicMs() - startedMs),
      },
    );
    this.settled.add(event.id);
    this.retryAt.delete(event.id);
    this.logger.log(`audit row ${event.id} settled as ${settlement.outcome}: ${settlement.reason}`);
    return true;
  }
}

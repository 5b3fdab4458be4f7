import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { checkpointFileName } from '../audit/audit-checkpoint.js';
import { CheckpointStore, type StoredCheckpoint } from '../audit/checkpoint-store.js';
import { authConfig } from '../auth/auth.config.js';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import type { Principal } from '../domain/principal.js';
import { CheckpointWriter } from './checkpoint-writer.js';
import { SigningKey } from './signing-key.js';

/** A checkpoint as auditors read it: with the name of its file in AUDIT_CHECKPOINT_DIR. */
export interface CheckpointView extends StoredCheckpoint {
  fileName: string;
}

export interface CheckpointPage {
  checkpoints: CheckpointView[];
  nextCursor: string | null;
}

/** Opaque to callers: the position of the last checkpoint of the page. */
const encodeCursor = (position: number) => Buffer.from(`cp:${position}`).toString('base64url');

function decodeCursor(cursor: string): number {
  const match = /^cp:([1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw GatewayError.validation('cursor', 'is not a cursor this gateway issued');
  return Number(match[1]);
}

const view = (checkpoint: StoredCheckpoint): CheckpointView => ({
  ...checkpoint,
  fileName: checkpointFileName(checkpoint),
});

/** Checkpoints are evidence about the audit trail: only the auditor group reads or asks for one. */
@Injectable()
export class CheckpointsService {
  private readonly logger = new Logger(CheckpointsService.name);

  constructor(
    private readonly store: CheckpointStore,
    private readonly writer: CheckpointWriter,
    private readonly key: SigningKey,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  async list(principal: Principal, limit: number, cursor?: string): Promise<CheckpointPage> {
    this.expectAuditor(principal, 'reading audit checkpoints');
    const before = cursor === undefined ? undefined : decodeCursor(cursor);
    const page = await this.available('list', this.store.list(limit, before));
    const last = page.checkpoints[page.checkpoints.length - 1];
    return {
      checkpoints: page.checkpoints.map(view),
      nextCursor: page.more && last ? encodeCursor(last.position) : null,
    };
  }

  async create(principal: Principal): Promise<CheckpointView> {
    this.expectAuditor(principal, 'asking for an audit checkpoint');
    const checkpoint = await this.available('write', this.writer.write());
    this.logger.log(`audit checkpoint at seq ${checkpoint.seq} asked for by ${principal.id}`);
    return view(checkpoint);
  }

  publicKey(principal: Principal): { keyId: string; publicKeyPem: string } {
    this.expectAuditor(principal, 'reading the checkpoint public key');
    return { keyId: this.key.keyId, publicKeyPem: this.key.publicKeyPem };
  }

  private expectAuditor(principal: Principal, what: string): void {
    if (!principal.inGroup(this.auth.auditorGroup)) {
      throw GatewayError.forbidden(`${what} needs the ${this.auth.auditorGroup} group`);
    }
  }

  /** A store failure is GW.AUDIT_UNAVAILABLE, with its message in the log only. */
  private async available<T>(operation: string, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      this.logger.error(`audit checkpoint ${operation} failed: ${(error as Error).message}`);
      throw new GatewayError(GwCode.AUDIT_UNAVAILABLE, 503, 'audit trail unavailable', {
        cause: error,
      });
    }
  }
}

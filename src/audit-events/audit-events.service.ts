import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import type { AuditFilter, AuditPage } from '../audit/audit-record.js';
import { AuditTrail } from '../audit/audit-trail.js';
import { authConfig } from '../auth/auth.config.js';
import type { Principal } from '../domain/principal.js';
import { GatewayError } from '../common/gateway-error.js';

/** Reading the trail is itself a privilege: only the auditor group may. */
@Injectable()
export class AuditEventsService {
  constructor(
    private readonly audit: AuditTrail,
    @Inject(authConfig.KEY) private readonly auth: ConfigType<typeof authConfig>,
  ) {}

  list(
    principal: Principal,
    filter: AuditFilter,
    limit: number,
    cursor?: string,
  ): Promise<AuditPage> {
    if (!principal.inGroup(this.auth.auditorGroup)) {
      throw GatewayError.forbidden(
        `reading the audit trail needs the ${this.auth.auditorGroup} group`,
      );
    }
    return this.audit.list(filter, limit, cursor);
  }
}

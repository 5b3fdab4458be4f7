import { Inject, Injectable } from '@nestjs/common';
import {
  SERVICE_ACCOUNT_VARIABLES,
  hasServiceIdentity,
  iamConfig,
  type IamConfig,
} from '../auth/iam/iam.config.js';
import type { LoadedPolicy } from './policy-loader.js';
import { coolingOffSecondsOf } from './policy-rule.js';

/**
 * What a valid policy still needs from the rest of the configuration before it is put in force.
 * A rule with approval or a cooling-off has its lock changes applied later by the gateway
 * itself (DESIGN §6), long after the caller's token expired: that takes a service identity,
 * which oidc mode has only with the optional service account.
 */
@Injectable()
export class PolicyAdmission {
  constructor(@Inject(iamConfig.KEY) private readonly iam: IamConfig) {}

  /** One line per problem, for PolicyFileError; empty when the policy may be put in force. */
  problemsOf(policy: LoadedPolicy): string[] {
    if (hasServiceIdentity(this.iam)) return [];
    return policy.rules.flatMap((rule, index) =>
      rule.approval !== undefined || coolingOffSecondsOf(rule) > 0
        ? [
            `rules[${index}] (${rule.id}): approval and coolingOff are applied later with the gateway's service identity, ` +
              `which IAM_TOKEN_MODE=oidc has only with ${SERVICE_ACCOUNT_VARIABLES.join(', ')} set: ` +
              'set them to a service account, or use IAM_TOKEN_MODE password or agency',
          ]
        : [],
    );
  }
}

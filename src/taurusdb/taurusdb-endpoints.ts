import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { GatewayError, GwCode } from '../common/gateway-error.js';
import { isRegion } from './region.js';
import { taurusdbConfig } from './taurusdb.config.js';

/** Which TaurusDB host serves a region (DESIGN §1: the host name differs in a few regions). */
@Injectable()
export class TaurusDbEndpoints {
  constructor(
    @Inject(taurusdbConfig.KEY) private readonly config: ConfigType<typeof taurusdbConfig>,
  ) {}

  /** The region comes from IAM's answer, so it is checked before it becomes part of a host. */
  baseUrlFor(region: string): string {
    if (!isRegion(region)) {
      throw new GatewayError(
        GwCode.UPSTREAM_ERROR,
        502,
        'IAM named a project region the gateway cannot route to',
      );
    }
    if (Object.hasOwn(this.config.endpoints, region)) return this.config.endpoints[region];
    return this.config.endpoint.replaceAll('{region}', region);
  }

  probeBaseUrl(): string {
    return this.baseUrlFor(this.config.probeRegion);
  }
}

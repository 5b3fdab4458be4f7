import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Clock } from '../common/clock.js';
import { ExpiringMap } from '../common/expiring-map.js';
import { SingleFlight } from '../common/single-flight.js';
import { taurusdbConfig } from './taurusdb.config.js';
import type { InstanceDetails } from './taurusdb.types.js';

/** Enough for every instance a busy gateway touches within a few seconds. */
const MAX_ENTRIES = 10_000;

/**
 * Instance details (enterprise project and tags, which the policy reads) for a few seconds at
 * most, with concurrent lookups of one instance sharing one call. Only answers are kept, never
 * failures. The caller chooses the key, so details fetched with one caller's IAM token are not
 * handed to another.
 */
@Injectable()
export class InstanceDetailsCache {
  private readonly entries: ExpiringMap<string, InstanceDetails>;
  private readonly lookups = new SingleFlight<string, InstanceDetails>();

  constructor(
    @Inject(taurusdbConfig.KEY) private readonly config: ConfigType<typeof taurusdbConfig>,
    private readonly clock: Clock,
  ) {
    this.entries = new ExpiringMap(MAX_ENTRIES, clock);
  }

  async get(key: string, fetch: () => Promise<InstanceDetails>): Promise<InstanceDetails> {
    if (this.config.instanceCacheMs === 0) return fetch();
    const cached = this.entries.get(key);
    if (cached) return cached;
    return this.lookups.run(key, async () => {
      const details = await fetch();
      this.entries.set(key, details, this.clock.nowMs() + this.config.instanceCacheMs);
      return details;
    }).result;
  }
}

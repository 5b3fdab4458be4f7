import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { Clock } from '../common/clock.js';
import { CachedLookups } from '../common/cached-lookups.js';
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
  private readonly lookups: CachedLookups<InstanceDetails>;

  constructor(@Inject(taurusdbConfig.KEY) config: ConfigType<typeof taurusdbConfig>, clock: Clock) {
    this.lookups = new CachedLookups(MAX_ENTRIES, config.instanceCacheMs, clock);
  }

  get(key: string, fetch: () => Promise<InstanceDetails>): Promise<InstanceDetails> {
    return this.lookups.get(key, fetch);
  }
}

import { Clock } from '../../common/clock.js';
import { InMemoryIamTokenCache } from './iam-token-cache.js';
import { describeIamTokenCacheContract } from './testing/iam-token-cache.contract.js';

describeIamTokenCacheContract(
  'InMemoryIamTokenCache',
  () => new InMemoryIamTokenCache(new Clock()),
);

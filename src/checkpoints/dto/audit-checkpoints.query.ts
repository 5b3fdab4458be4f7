import { CHECKPOINT_LIST_DEFAULT_LIMIT, CHECKPOINT_LIST_MAX_LIMIT } from './checkpoint-limits.js';
import { PageCursorQuery, PageLimitQuery } from '../../common/page-query.js';

export class AuditCheckpointsQueryDto {
  @PageLimitQuery(CHECKPOINT_LIST_DEFAULT_LIMIT, CHECKPOINT_LIST_MAX_LIMIT)
  limit?: number;

  @PageCursorQuery()
  cursor?: string;
}

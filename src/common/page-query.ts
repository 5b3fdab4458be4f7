import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsPageCursor, IsPageSize, MAX_CURSOR_CHARS } from './page-rules.js';

/** A REST listing's `limit` query parameter, with the listing's own default and maximum. */
export const PageLimitQuery = (defaultLimit: number, maxLimit: number): PropertyDecorator =>
  applyDecorators(
    IsPageSize(maxLimit),
    Type(() => Number),
    ApiPropertyOptional({ type: 'integer', default: defaultLimit, minimum: 1, maximum: maxLimit }),
  );

/** A REST listing's `cursor` query parameter: the `next_cursor` its previous page answered. */
export const PageCursorQuery = (): PropertyDecorator =>
  applyDecorators(
    IsPageCursor(),
    ApiPropertyOptional({
      maxLength: MAX_CURSOR_CHARS,
      description: 'The next_cursor of the previous page',
    }),
  );

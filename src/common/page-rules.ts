import { applyDecorators } from '@nestjs/common';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

/** Longer text cannot be a cursor this gateway issued. */
export const MAX_CURSOR_CHARS = 200;

// class-validator reports a field's broken rules in the order they were registered, and stacked
// decorators register bottom first: the rules below are listed in that order, so that a cursor
// given twice hears "is not a cursor" first, as a stacked declaration would say it.

/** A page size (GraphQL `first`, REST `limit`): optional, a whole number from 1 to `maxLimit`. */
export function IsPageSize(maxLimit: number): PropertyDecorator {
  const message = `must be an integer from 1 to ${maxLimit}`;
  return applyDecorators(
    Max(maxLimit, { message }),
    Min(1, { message }),
    IsInt({ message }),
    IsOptional(),
  );
}

/** A page cursor (GraphQL `after`, REST `cursor`): optional, the opaque text a page ended with. */
export const IsPageCursor = (): PropertyDecorator =>
  applyDecorators(
    MaxLength(MAX_CURSOR_CHARS, { message: 'is not a cursor' }),
    IsString(),
    IsOptional(),
  );

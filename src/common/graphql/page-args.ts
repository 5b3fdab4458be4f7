import { applyDecorators } from '@nestjs/common';
import { Field, Int } from '@nestjs/graphql';
import { IsPageCursor, IsPageSize } from '../page-rules.js';

/** A GraphQL listing's `first` argument, with the listing's own default and maximum. */
export const FirstArg = (defaultLimit: number, maxLimit: number): PropertyDecorator =>
  applyDecorators(
    IsPageSize(maxLimit),
    Field(() => Int, { nullable: true, defaultValue: defaultLimit }),
  );

/** A GraphQL listing's `after` argument: the `endCursor` its previous page answered. */
export const AfterArg = (options: { description?: string } = {}): PropertyDecorator =>
  applyDecorators(
    IsPageCursor(),
    Field(() => String, { nullable: true, ...options }),
  );

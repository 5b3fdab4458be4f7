import { applyDecorators } from '@nestjs/common';
import { IsString, Matches, MaxLength } from 'class-validator';
import { MAX_COMMENT_CHARS } from '../lock-requests.service.js';

export const COMMENT_RULE = `must be a string of at most ${MAX_COMMENT_CHARS} characters`;
export const REQUIRED_COMMENT_RULE = `must say why, in 1 to ${MAX_COMMENT_CHARS} characters that are not all blank`;

export const IsComment = () =>
  applyDecorators(
    IsString({ message: COMMENT_RULE }),
    MaxLength(MAX_COMMENT_CHARS, { message: COMMENT_RULE }),
  );

/** A deny says why: its comment is the request's reason. */
export const IsRequiredComment = () =>
  applyDecorators(
    IsString({ message: REQUIRED_COMMENT_RULE }),
    MaxLength(MAX_COMMENT_CHARS, { message: REQUIRED_COMMENT_RULE }),
    Matches(/\S/, { message: REQUIRED_COMMENT_RULE }),
  );

import { describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { GraphQLError } from 'graphql';
import { formatGraphqlError } from './format-graphql-error.js';
import { withRequestIdInErrors } from './graphql-answer-request-id.js';

describe('formatGraphqlError', () => {
  it('refuses as BAD_USER_INPUT what Apollo refused with a 4xx status but no code', () => {
    const apollo = new GraphQLError('Unsupported persisted query version', {
      extensions: { http: { status: 400 } },
    });
    expect(
      formatGraphqlError(
        { message: apollo.message, extensions: { code: 'INTERNAL_SERVER_ERROR' } },
        apollo,
      ),
    ).toEqual({
      message: 'Unsupported persisted query version',
      extensions: { code: 'BAD_USER_INPUT', errorCode: 'GW.VALIDATION' },
    });
  });

  it('logs an unexpected error, and shows the caller nothing of it', () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const cause = new TypeError('secret detail');
      const answer = formatGraphqlError(
        {
          message: 'secret detail',
          extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['x'] },
        },
        cause,
      );
      expect(answer).toEqual({
        message: 'internal error',
        extensions: { code: 'INTERNAL_SERVER_ERROR', errorCode: 'GW.INTERNAL' },
      });
      expect(logged).toHaveBeenCalledWith({ err: cause }, 'unexpected GraphQL error');
    } finally {
      logged.mockRestore();
    }
  });
});

describe('withRequestIdInErrors', () => {
  it('adds the request id to each error that lacks one, and keeps the others', () => {
    const answer = JSON.stringify({
      errors: [
        { message: 'a', extensions: { code: 'BAD_USER_INPUT' } },
        { message: 'b' },
        { message: 'c', extensions: { requestId: 'theirs' } },
      ],
      data: null,
    });
    expect(JSON.parse(withRequestIdInErrors(answer, 'req-1'))).toEqual({
      errors: [
        { message: 'a', extensions: { code: 'BAD_USER_INPUT', requestId: 'req-1' } },
        { message: 'b', extensions: { requestId: 'req-1' } },
        { message: 'c', extensions: { requestId: 'theirs' } },
      ],
      data: null,
    });
  });

  it('passes an answer without errors, or with ids everywhere, as it is', () => {
    for (const answer of [
      '{"data":{"__typename":"Query"}}\n',
      '{"errors":[{"message":"x","extensions":{"requestId":"r"}}]}',
    ]) {
      expect(withRequestIdInErrors(answer, 'req-1')).toBe(answer);
    }
  });
});

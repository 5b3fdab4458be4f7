import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { channelOf } from '../common/gateway-request.js';
import { InternalTokenVerifier } from './internal-token-verifier.js';
import { IS_PUBLIC } from './public.decorator.js';

/**
 * Registered globally: every route needs a verified internal token unless marked @Public().
 * A GraphQL request was authenticated once before Apollo ran (see `graphqlContext`); its
 * principal is reused here rather than the token verified again for each resolver.
 */
@Injectable()
export class InternalAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: InternalTokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;

    const { req } = channelOf(context);
    req.principal ??= await this.verifier.authenticate(req.headers.authorization);
    return true;
  }
}

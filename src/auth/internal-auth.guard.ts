import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GatewayError } from '../common/gateway-error.js';
import { channelOf } from '../common/gateway-request.js';
import { InternalTokenVerifier } from './internal-token-verifier.js';
import { IS_PUBLIC } from './public.decorator.js';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/;

/** Registered globally: every route needs a verified internal token unless marked @Public(). */
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
    const header = req.headers.authorization;
    if (!header) throw GatewayError.unauthenticated('Authorization header missing');
    const match = BEARER.exec(header);
    if (!match) {
      throw GatewayError.unauthenticated('Authorization header must be "Bearer <JWT>"');
    }
    req.principal = await this.verifier.verify(match[1]);
    return true;
  }
}

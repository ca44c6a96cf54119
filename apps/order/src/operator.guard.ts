import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { envOptional } from '../../shared/src/env';

/** The operators' shared secret (`OPERATOR_TOKEN`); unset: the operator routes are disabled. */
export const OPERATOR_TOKEN = Symbol('OPERATOR_TOKEN');

export const operatorTokenProvider = {
  provide: OPERATOR_TOKEN,
  useFactory: (): string | undefined => envOptional(process.env, 'OPERATOR_TOKEN'),
};

/**
 * Lets a request through to an operator route (listing sagas, retry, resolve, abort) only with
 * `Authorization: Bearer <OPERATOR_TOKEN>`. Closed when no token is configured: an operator action changes what a
 * saga does next, so a deployment that forgot to protect it refuses rather than obeys anyone. Replace it with your
 * own authentication (roles, mTLS, an API gateway) in production.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  constructor(@Inject(OPERATOR_TOKEN) private readonly token: string | undefined) {}

  canActivate(context: ExecutionContext): boolean {
    if (!this.token) {
      throw new ForbiddenException(
        'Operator routes are disabled: set OPERATOR_TOKEN on the order service and send it as "Authorization: Bearer <token>".',
      );
    }
    const header = context.switchToHttp().getRequest<IncomingMessage>().headers.authorization;
    const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (given === undefined || !sameSecret(given, this.token)) {
      throw new UnauthorizedException('Operator routes need "Authorization: Bearer <OPERATOR_TOKEN>".');
    }
    return true;
  }
}

/** Compares in constant time (over digests, so lengths do not leak either). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

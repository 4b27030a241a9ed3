import { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/internal';
import { signToken } from '@truceline/config';
import { ForbiddenError, TrucelineError } from '@truceline/domain';
import { sign } from 'jsonwebtoken';
import { AuthenticatedRequest, AuthGuard } from './auth.guard';
import { hs256Verifier } from './token-verifier';
import { Public, Roles } from './roles.decorator';

const SECRET = 'a-guard-test-secret-long-enough-for-hs256';
/** Options of a token that expires: each case below is wrong in one claim only. */
const LIVE = { expiresIn: 600 } as const;

@Roles('operator')
class RoutesDouble {
  @Roles('verifier', 'ministry')
  partnersOnly() {}
  operatorsByDefault() {}
  @Public()
  health() {}
}
class UndecoratedDouble {
  forgotten() {}
}

const contextFor = (
  handler: keyof RoutesDouble | 'forgotten',
  authorization?: string,
): { context: ExecutionContext; request: AuthenticatedRequest } => {
  const request = { headers: { authorization } } as AuthenticatedRequest;
  // Nest's own context of an HTTP call: the request as its first argument, the route's class and method.
  const context =
    handler === 'forgotten'
      ? new ExecutionContextHost(
          [request],
          UndecoratedDouble,
          UndecoratedDouble.prototype.forgotten,
        )
      : new ExecutionContextHost([request], RoutesDouble, RoutesDouble.prototype[handler]);
  return { context, request };
};

const bearer = (token: string) => `Bearer ${token}`;

describe(AuthGuard.name, () => {
  const sut = new AuthGuard(new Reflector(), hs256Verifier(SECRET));

  const refusal = async (handler: Parameters<typeof contextFor>[0], authorization?: string) => {
    try {
      await sut.canActivate(contextFor(handler, authorization).context);
    } catch (error) {
      return error as TrucelineError;
    }
    throw new Error('expected the guard to refuse');
  };

  it('lets a @Public() route through without a token', async () => {
    expect(await sut.canActivate(contextFor('health').context)).toBe(true);
  });

  it('puts the verified actor on the request', async () => {
    const token = signToken(SECRET, { sub: 'v-1', role: 'verifier', partner: 'FR' });
    const { context, request } = contextFor('partnersOnly', bearer(token));

    expect(await sut.canActivate(context)).toBe(true);
    expect(request.actor).toEqual({ id: 'v-1', role: 'verifier', partner: 'FR' });
  });

  it("uses the controller's roles when the handler has none", async () => {
    const token = signToken(SECRET, { sub: 'o-1', role: 'operator' });

    expect(await sut.canActivate(contextFor('operatorsByDefault', bearer(token)).context)).toBe(
      true,
    );
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Basic b3BzOnB3'],
    ['an empty bearer', 'Bearer '],
    ['garbage', 'Bearer not.a.jwt'],
    [
      'another key',
      bearer(signToken('another-secret-that-is-long-enough', { sub: 'x', role: 'operator' })),
    ],
    ['a token that never expires', bearer(sign({ sub: 'x', role: 'operator' }, SECRET))],
    ['an expired token', bearer(sign({ sub: 'x', role: 'operator', exp: 1 }, SECRET))],
    [
      'another algorithm',
      bearer(sign({ sub: 'x', role: 'operator' }, SECRET, { algorithm: 'HS512', expiresIn: 600 })),
    ],
    ['no sub', bearer(sign({ role: 'operator' }, SECRET, LIVE))],
    ['an unknown role', bearer(sign({ sub: 'x', role: 'admin' }, SECRET, LIVE))],
    ['a verifier without partner', bearer(sign({ sub: 'x', role: 'verifier' }, SECRET, LIVE))],
    ['a ministry without partner', bearer(sign({ sub: 'x', role: 'ministry' }, SECRET, LIVE))],
    [
      'a malformed partner',
      bearer(sign({ sub: 'x', role: 'ministry', partner: 'gbr' }, SECRET, LIVE)),
    ],
  ])('answers 401 for %s', async (_case, authorization) => {
    const error = await refusal('partnersOnly', authorization);

    expect(error).toBeInstanceOf(TrucelineError);
    expect(error.code).toBe('unauthorized');
  });

  it('answers 403 for a valid token with a role the route does not allow', async () => {
    const token = signToken(SECRET, { sub: 'a-1', role: 'auditor' });

    const error = await refusal('partnersOnly', bearer(token));

    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error.details).toEqual({ reason: 'role' });
  });

  it('refuses a route that declares no roles, even to a valid token', async () => {
    const token = signToken(SECRET, { sub: 'o-1', role: 'operator' });

    expect(await refusal('forgotten', bearer(token))).toBeInstanceOf(ForbiddenError);
  });
});

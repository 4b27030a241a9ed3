import { verify } from 'jsonwebtoken';
import { signToken } from './sign-token';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

describe(signToken.name, () => {
  it('signs HS256 claims that verify with the same secret', () => {
    const sut = signToken(SECRET, { sub: 'alice', role: 'verifier', partner: 'US' }, 60);

    const claims = verify(sut, SECRET, { algorithms: ['HS256'] }) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'alice', role: 'verifier', partner: 'US' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(60);
  });

  it('leaves partner out when none is given', () => {
    const sut = signToken(SECRET, { sub: 'ops', role: 'operator' });

    expect(verify(sut, SECRET)).not.toHaveProperty('partner');
  });

  it.each([
    [{ sub: '', role: 'operator' }, /sub/],
    [{ sub: 'x', role: 'admin' }, /role/],
    [{ sub: 'x', role: 'ministry' }, /partner/],
    [{ sub: 'x', role: 'verifier', partner: 'usa' }, /partner/],
  ])('refuses claims the API would reject: %j', (claims, message) => {
    expect(() => signToken(SECRET, claims as never)).toThrow(message);
  });

  it('refuses a non-positive lifetime', () => {
    expect(() => signToken(SECRET, { sub: 'x', role: 'operator' }, 0)).toThrow(/ttl/);
  });
});

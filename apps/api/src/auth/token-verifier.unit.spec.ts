import { TrucelineError } from '@truceline/domain';
import { sign } from 'jsonwebtoken';
import { hs256Verifier, VerifiedTokens } from './token-verifier';

const SECRET = 'a-verifier-test-secret-long-enough-for-hs256';
const NOW_S = 2_000_000_000;

const refusalOf = async (verify: () => Promise<unknown>): Promise<TrucelineError> => {
  try {
    await verify();
  } catch (error) {
    return error as TrucelineError;
  }
  throw new Error('expected the token to be refused');
};

describe('hs256Verifier', () => {
  afterEach(() => jest.restoreAllMocks());
  const at = (seconds: number) => jest.spyOn(Date, 'now').mockReturnValue(seconds * 1000);

  it('refuses a token it has already accepted once its exp is reached, as a first check would', async () => {
    const verifier = hs256Verifier(SECRET);
    const token = sign({ sub: 'x', role: 'operator', iat: NOW_S, exp: NOW_S + 60 }, SECRET);
    at(NOW_S);
    expect(await verifier.verify(token)).toMatchObject({ sub: 'x' });
    at(NOW_S + 59);
    expect(await verifier.verify(token)).toMatchObject({ sub: 'x' });

    at(NOW_S + 60);
    const refused = await refusalOf(() => verifier.verify(token));

    expect(refused).toBeInstanceOf(TrucelineError);
    expect(refused.message).toBe('the token has expired');
    // And again, now that it is no longer remembered.
    expect((await refusalOf(() => verifier.verify(token))).message).toBe('the token has expired');
  });

  it('checks a token that differs from an accepted one only in its signature afresh', async () => {
    const verifier = hs256Verifier(SECRET);
    const token = sign({ sub: 'x', role: 'operator' }, SECRET, { expiresIn: 600 });
    await verifier.verify(token);
    const at = token.length - 10;
    const other = token[at] === 'A' ? 'B' : 'A';
    const forged = `${token.slice(0, at)}${other}${token.slice(at + 1)}`;

    const refused = await refusalOf(() => verifier.verify(forged));

    expect(refused.code).toBe('unauthorized');
    expect(refused.message).toBe('the token is not valid');
  });
});

describe(VerifiedTokens.name, () => {
  const claims = (sub: string) => ({ sub, exp: Math.floor(Date.now() / 1000) + 600 });

  it('keeps at most its capacity, letting the oldest go first', () => {
    const tokens = new VerifiedTokens(2);
    tokens.remember('a', claims('a'));
    tokens.remember('b', claims('b'));
    tokens.remember('c', claims('c'));

    expect(tokens.get('a')).toBeUndefined();
    expect(tokens.get('b')).toMatchObject({ sub: 'b' });
    expect(tokens.get('c')).toMatchObject({ sub: 'c' });
  });

  it('forgets a token checked against keys fetched before the current ones', () => {
    const tokens = new VerifiedTokens();
    tokens.remember('a', claims('a'), 1);

    expect(tokens.get('a', 1)).toMatchObject({ sub: 'a' });
    expect(tokens.get('a', 2)).toBeUndefined();
    expect(tokens.get('a', 1)).toBeUndefined();
  });

  it('does not keep a token without a numeric exp', () => {
    const tokens = new VerifiedTokens();
    tokens.remember('a', { sub: 'a' });

    expect(tokens.get('a')).toBeUndefined();
  });
});

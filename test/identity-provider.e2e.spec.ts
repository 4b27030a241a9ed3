import { generateKeyPair, exportJWK, JWK, SignJWT, CryptoKey } from 'jose';
import { sign } from 'jsonwebtoken';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { startInProcessSystem, InProcessSystem } from './support/in-process-system';
import { breachReport, freshSector } from './support/truceline-api';

/**
 * SPEC §6 with an identity provider: the API checks RS256/ES256 tokens against a JWKS served
 * here on 127.0.0.1, with the issuer and audience it was configured with. The provider rotates
 * its key mid-test; the API picks the new key up by its kid without a restart, and every token
 * that is wrong in one respect — issuer, audience, kid, algorithm, expiry — gets a 401 and
 * changes nothing.
 */
const ISSUER = 'https://idp.coalition.example/realms/truceline';
const AUDIENCE = 'truceline-api';

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg: SigningKey['alg']): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** The identity provider's JWKS endpoint: serves whatever keys it holds now, counts fetches. */
async function startJwksEndpoint(): Promise<{
  url: string;
  publish(keys: SigningKey[]): void;
  fetches(): number;
  close(): Promise<void>;
}> {
  let keys: JWK[] = [];
  let fetches = 0;
  const server: Server = createServer((_request, response) => {
    fetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/protocol/openid-connect/certs`,
    publish: (next) => {
      keys = next.map((k) => k.jwk);
    },
    fetches: () => fetches,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface TokenOptions {
  key: SigningKey;
  issuer?: string;
  audience?: string;
  kid?: string;
  expiresIn?: number | null;
  claims?: Record<string, unknown>;
}

async function tokenOf({
  key,
  issuer = ISSUER,
  audience = AUDIENCE,
  kid = key.kid,
  expiresIn = 600,
  claims = { role: 'operator' },
}: TokenOptions): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid, typ: 'JWT' })
    .setSubject('op-from-idp')
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt();
  if (expiresIn !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn);
  return jwt.sign(key.privateKey);
}

describe('tokens from an identity provider (TRUCELINE_JWKS_URL)', () => {
  let idp: Awaited<ReturnType<typeof startJwksEndpoint>>;
  let system: InProcessSystem;
  let before: SigningKey;
  let after: SigningKey;

  beforeAll(async () => {
    [before, after] = await Promise.all([
      signingKey('2026-02', 'RS256'),
      signingKey('2026-03', 'ES256'),
    ]);
    idp = await startJwksEndpoint();
    idp.publish([before]);
    system = await startInProcessSystem({
      clock: 'system',
      env: {
        TRUCELINE_JWKS_URL: idp.url,
        TRUCELINE_JWT_ISSUER: ISSUER,
        TRUCELINE_JWT_AUDIENCE: AUDIENCE,
      },
      // A short cooldown between refetches, so the rotation below needs no 30 s wait.
      api: { jwksTiming: { cooldownMs: 100 } },
    });
  }, 60_000);
  afterAll(async () => {
    await system?.close();
    await idp?.close();
  });

  const call = async (method: 'GET' | 'POST', path: string, token: string, body?: unknown) => {
    const response = await fetch(`${system.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };
  const list = (token: string) => call('GET', '/v1/incidents', token);
  const head = async () => (await system.runtime.store.readAll()).length;

  it('accepts the provider’s tokens, fetching its keys once and caching them', async () => {
    const token = await tokenOf({ key: before });

    expect((await list(token)).status).toBe(200);
    expect((await call('POST', '/v1/incidents', token, breachReport(freshSector()))).status).toBe(
      201,
    );
    expect((await list(token)).status).toBe(200);
    expect(idp.fetches()).toBe(1);
  });

  it('follows a key rotation by kid without a restart, and drops the retired key', async () => {
    await new Promise((resolve) => setTimeout(resolve, 150)); // past the refetch cooldown
    idp.publish([after]);

    expect((await list(await tokenOf({ key: after }))).status).toBe(200);
    expect(idp.fetches()).toBe(2);

    await new Promise((resolve) => setTimeout(resolve, 150));
    const retired = await list(await tokenOf({ key: before }));
    expect(retired.status).toBe(401);
    expect(retired.body.detail).toMatch(/kid/);
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    [
      'another issuer',
      () => tokenOf({ key: after, issuer: 'https://idp.elsewhere.example' }),
      /iss/,
    ],
    ['another audience', () => tokenOf({ key: after, audience: 'another-api' }), /aud/],
    [
      'a kid the provider never published',
      async () => tokenOf({ key: await signingKey('forged', 'ES256') }),
      /kid/,
    ],
    [
      'a known kid on a token signed with another key',
      async () => tokenOf({ key: { ...(await signingKey('x', 'ES256')), kid: after.kid } }),
      /not valid/,
    ],
    [
      'HS256 with the shared development secret',
      async () =>
        sign({ sub: 'x', role: 'operator', iss: ISSUER, aud: AUDIENCE }, system.jwtSecret, {
          algorithm: 'HS256',
          expiresIn: 600,
          keyid: after.kid,
        }),
      /RS256 or ES256/,
    ],
    ['an expired token', () => tokenOf({ key: after, expiresIn: -60 }), /expired/],
    ['a token that never expires', () => tokenOf({ key: after, expiresIn: null }), /exp/],
    [
      'a ministry token without partner',
      () => tokenOf({ key: after, claims: { role: 'ministry' } }),
      /partner/,
    ],
  ])('answers 401 to %s, and changes nothing', async (_case, token, detail) => {
    const atStart = await head();

    const refused = await call('POST', '/v1/incidents', await token(), breachReport(freshSector()));

    expect(refused.status).toBe(401);
    expect(refused.body.detail).toMatch(detail);
    expect(await head()).toBe(atStart);
  });
});

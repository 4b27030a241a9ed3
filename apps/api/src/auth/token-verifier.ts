import { createSecretKey } from 'node:crypto';
import { ServiceUnavailableException } from '@nestjs/common';
import type { JwksSettings, TrucelineConfig } from '@truceline/config';
import { TrucelineError } from '@truceline/domain';
import { createRemoteJWKSet, customFetch, errors as jose, jwtVerify } from 'jose';
import { JsonWebTokenError, TokenExpiredError, verify } from 'jsonwebtoken';

/** A token's claims once its signature, algorithm and time claims have been checked. */
export type VerifiedClaims = Record<string, unknown>;

/** Checks a bearer token's signature; the claims Truceline needs are checked by the caller. */
export interface TokenVerifier {
  /** The claims, or a TrucelineError 'unauthorized' saying what is wrong. */
  verify(token: string): Promise<VerifiedClaims>;
}

/** The algorithms an identity provider's keys may sign with (SPEC §6). */
export const JWKS_ALGORITHMS = ['RS256', 'ES256'] as const;

export interface JwksTiming {
  /** How long fetched keys are trusted before the set is fetched again (jose's cacheMaxAge). */
  cacheMaxAgeMs?: number;
  /**
   * A token with a kid not in the cached set triggers a fetch (the provider rotated its keys),
   * at most once per this period, so tokens with made-up kids cannot hammer the provider.
   */
  cooldownMs?: number;
  /** A JWKS fetch slower than this fails the request with 503. */
  timeoutMs?: number;
}

const unauthorized = (message: string) => new TrucelineError('unauthorized', message);
const expired = () => unauthorized('the token has expired');

/** How many verified tokens a verifier remembers (a few hundred bytes each). */
export const VERIFIED_TOKENS_KEPT = 1_000;

interface Verified {
  claims: VerifiedClaims;
  /** The token's exp, in seconds since the epoch. */
  exp: number;
  /** Which fetch of the identity provider's keys it was checked against (HS256: always 0). */
  keys: number;
}

/**
 * Tokens whose signature has been checked, by their whole text (signature included, so a
 * token that differs in any byte is checked afresh): a caller sends the same token with every
 * request, and checking its signature again each time was a tenth of the CPU of a GET. Only
 * tokens with a numeric exp are kept, and a kept token is refused as expired from its exp on,
 * exactly as a fresh check would; the oldest entry makes room when the cache is full.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, Verified>();

  constructor(private readonly capacity = VERIFIED_TOKENS_KEPT) {}

  /** The claims of a token checked against `keys`, or undefined to check it now. */
  get(token: string, keys = 0): VerifiedClaims | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.keys !== keys) {
      this.entries.delete(token);
      return undefined;
    }
    // The check jsonwebtoken and jose make: expired once the clock's second reaches exp.
    if (Math.floor(Date.now() / 1000) >= entry.exp) {
      this.entries.delete(token);
      throw expired();
    }
    return entry.claims;
  }

  remember(token: string, claims: VerifiedClaims, keys = 0): void {
    const exp = claims.exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return;
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(token, { claims, exp, keys });
  }
}

/** HS256 with the shared secret: development and small deployments. */
export function hs256Verifier(secret: string): TokenVerifier {
  // A key object made once: given the string, jsonwebtoken first tries it as a public key on
  // every request (and fails), which cost more CPU than the rest of a command under load.
  const key = createSecretKey(Buffer.from(secret));
  const verifiedTokens = new VerifiedTokens();
  return {
    verify: (token) => {
      try {
        const known = verifiedTokens.get(token);
        if (known) return Promise.resolve(known);
        const verified = verify(token, key, { algorithms: ['HS256'] });
        if (typeof verified === 'string') throw new JsonWebTokenError('payload is not an object');
        verifiedTokens.remember(token, verified);
        return Promise.resolve(verified);
      } catch (error) {
        if (error instanceof TrucelineError) throw error;
        if (error instanceof TokenExpiredError) throw expired();
        throw unauthorized('the token is not valid');
      }
    },
  };
}

/**
 * RS256/ES256 tokens of an identity provider, checked against its JWKS with the issuer and
 * audience this deployment trusts. The key set is fetched on first use and cached; a token
 * signed with a key the cache does not hold (the provider rotated) fetches it again, so a
 * rotation needs no restart.
 */
export function jwksVerifier(settings: JwksSettings, timing: JwksTiming = {}): TokenVerifier {
  // Each fetch of the key set starts a new generation: a token checked against older keys is
  // checked again, so a key the provider retired stops working as soon as it is noticed.
  let fetches = 0;
  const keys = createRemoteJWKSet(new URL(settings.url), {
    cacheMaxAge: timing.cacheMaxAgeMs ?? 10 * 60_000,
    cooldownDuration: timing.cooldownMs ?? 30_000,
    timeoutDuration: timing.timeoutMs ?? 5_000,
    [customFetch]: (url: string, init: RequestInit) => {
      fetches++;
      return fetch(url, init);
    },
  });
  const options = {
    algorithms: [...JWKS_ALGORITHMS],
    issuer: settings.issuer,
    audience: settings.audience,
    requiredClaims: ['exp'],
  };
  const verifiedTokens = new VerifiedTokens();
  return {
    verify: async (token) => {
      try {
        // Keys past their cacheMaxAge are fetched again by jose on the next check: no shortcut.
        const known = keys.fresh ? verifiedTokens.get(token, fetches) : undefined;
        if (known) return known;
        const generation = fetches;
        const { payload } = await jwtVerify(token, keys, options);
        // Remembered only when no fetch began meanwhile (else it is simply checked again).
        if (generation === fetches) verifiedTokens.remember(token, payload, generation);
        return payload as VerifiedClaims;
      } catch (error) {
        if (error instanceof TrucelineError) throw error;
        throw refusalOf(error);
      }
    },
  };
}

/** The verifier the configuration calls for: the identity provider's when TRUCELINE_JWKS_URL is set. */
export function tokenVerifierFor(config: TrucelineConfig, timing?: JwksTiming): TokenVerifier {
  return config.jwks ? jwksVerifier(config.jwks, timing) : hs256Verifier(config.jwtSecret);
}

/** What the caller is told: which check failed, never the keys or the provider's answers. */
function refusalOf(error: unknown): Error {
  if (error instanceof jose.JWTExpired) return unauthorized('the token has expired');
  if (error instanceof jose.JWTClaimValidationFailed) {
    if (error.claim === 'iss') {
      return unauthorized('the token was not issued by the trusted identity provider (iss)');
    }
    if (error.claim === 'aud') return unauthorized('the token is not meant for this API (aud)');
    if (error.claim === 'exp') return unauthorized('the token must carry an exp claim');
    return unauthorized(`the token's ${error.claim} claim is not valid`);
  }
  if (error instanceof jose.JOSEAlgNotAllowed) {
    return unauthorized(`the token must be signed with ${JWKS_ALGORITHMS.join(' or ')}`);
  }
  if (error instanceof jose.JWKSNoMatchingKey || error instanceof jose.JWKSMultipleMatchingKeys) {
    return unauthorized("the token's key (kid) is not one of the identity provider's keys");
  }
  if (
    error instanceof jose.JWKSTimeout ||
    error instanceof jose.JWKSInvalid ||
    isFetchFailure(error)
  ) {
    // Not the caller's fault: the keys to check any token with cannot be had right now.
    return new ServiceUnavailableException("the identity provider's keys cannot be fetched");
  }
  return unauthorized('the token is not valid');
}

function isFetchFailure(error: unknown): boolean {
  // fetch reports a refused connection as "fetch failed"; jose a non-200 answer as JOSEError.
  return (
    (error instanceof TypeError && error.message === 'fetch failed') ||
    (error instanceof jose.JOSEError && /Expected 200 OK/.test(error.message))
  );
}

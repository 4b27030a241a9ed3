import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How partner webhooks are signed (SPEC §5; docs/webhooks.md for receivers).
 *
 *   X-Truceline-Delivery:  <delivery id>   the same on every retry of one notice: deduplicate by it
 *   X-Truceline-Timestamp: <unix seconds>  when this attempt was sent
 *   X-Truceline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * The timestamp is inside the MAC, so a captured request cannot be replayed with a fresh
 * timestamp; a receiver rejects timestamps outside a 5-minute window of its own clock.
 * Receivers must compute the MAC over the raw bytes received, before any JSON parsing.
 */
export const WEBHOOK_HEADERS = {
  delivery: 'x-truceline-delivery',
  timestamp: 'x-truceline-timestamp',
  signature: 'x-truceline-signature',
} as const;

export const WEBHOOK_REPLAY_WINDOW_SECONDS = 300;

const SCHEME = 'sha256=';

export function signWebhook(secret: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `${SCHEME}${mac}`;
}

/** The headers of one attempt to deliver `body`. */
export function webhookHeaders(
  deliveryId: string,
  secret: string,
  body: string,
  sentAt: Date,
): Record<string, string> {
  const timestamp = Math.floor(sentAt.getTime() / 1000);
  return {
    'Content-Type': 'application/json',
    'X-Truceline-Delivery': deliveryId,
    'X-Truceline-Timestamp': String(timestamp),
    'X-Truceline-Signature': signWebhook(secret, timestamp, body),
  };
}

export type WebhookVerification =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'missing-headers' | 'malformed' | 'outside-window' | 'bad-signature' };

export interface WebhookToVerify {
  secret: string;
  /** The raw body as received. */
  body: string | Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
  /** The receiver's clock. */
  now?: Date;
  toleranceSeconds?: number;
}

/** What a partner's receiver does with a request: the reference check, used by the tests too. */
export function verifyWebhook(request: WebhookToVerify): WebhookVerification {
  const { timestamp, signature } = request;
  if (timestamp === undefined || signature === undefined) {
    return { ok: false, reason: 'missing-headers' };
  }
  if (!/^\d{1,12}$/.test(timestamp) || !/^sha256=[0-9a-f]{64}$/.test(signature)) {
    return { ok: false, reason: 'malformed' };
  }
  const seconds = Number(timestamp);
  const now = Math.floor((request.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - seconds) > (request.toleranceSeconds ?? WEBHOOK_REPLAY_WINDOW_SECONDS)) {
    return { ok: false, reason: 'outside-window' };
  }
  const expected = Buffer.from(signWebhook(request.secret, seconds, request.body));
  const given = Buffer.from(signature);
  // Constant time: the comparison must not tell an attacker how many leading characters match.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad-signature' };
  }
  return { ok: true, timestamp: seconds };
}

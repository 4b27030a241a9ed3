import { createHmac } from 'node:crypto';

/**
 * How partner webhooks are signed: the Standard Webhooks specification (SPEC §5;
 * docs/webhooks.md for receivers), so a ministry verifies with any of its libraries.
 *
 *   webhook-id:        <delivery id>   the same on every retry of one notice: deduplicate by it
 *   webhook-timestamp: <unix seconds>  when this attempt was sent
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")> …
 *
 * A secret is `whsec_` + base64 of the key bytes. While a partner's secret rotates, the
 * partners file lists the old and the new one and every request carries one signature per
 * secret, separated by spaces: a receiver holding either accepts it. The id and timestamp are
 * inside the MAC, so a captured request cannot be replayed under another id or a fresh time.
 */
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** The Standard Webhooks secret prefix; what follows is the base64 key. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** The HMAC key of a `whsec_…` secret: its base64 part, decoded. */
export function webhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX)
    ? secret.slice(WEBHOOK_SECRET_PREFIX.length)
    : secret;
  return Buffer.from(encoded, 'base64');
}

/** One `v1,<base64>` signature of `body` sent as message `id` at `timestamp` (unix seconds). */
export function signWebhook(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Buffer,
): string {
  const mac = createHmac('sha256', webhookKey(secret))
    .update(`${id}.${timestamp}.`)
    .update(body)
    .digest('base64');
  return `v1,${mac}`;
}

/** The headers of one attempt to deliver `body`: one signature per configured secret. */
export function webhookHeaders(
  id: string,
  secrets: readonly string[],
  body: string,
  sentAt: Date,
): Record<string, string> {
  const timestamp = Math.floor(sentAt.getTime() / 1000);
  return {
    'Content-Type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signWebhook(s, id, timestamp, body)).join(' '),
  };
}

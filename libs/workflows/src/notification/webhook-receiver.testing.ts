import { createHash } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { WebhookNotice } from './delivery-plan';
import { WEBHOOK_HEADERS } from './webhook-signature';

/**
 * Test support, not production code: a partner's webhook endpoint as a real HTTP server on
 * 127.0.0.1, one path per partner (`/hooks/<CODE>`). It checks every request as a ministry's
 * receiver would, with the reference Standard Webhooks library and the secret that partner
 * holds — signature over id, timestamp and raw body, timestamp within 5 minutes — answers 401
 * to anything that fails, and keeps what it accepted and what it refused for the test to inspect.
 */

/** A deterministic Standard Webhooks secret for tests: `whsec_` + base64 SHA-256(label). */
export const testWebhookSecret = (label: string): string =>
  `whsec_${createHash('sha256').update(label).digest('base64')}`;

export type VerificationFailure =
  'missing-headers' | 'malformed' | 'outside-window' | 'bad-signature';

export interface ReceivedNotice {
  partner: string;
  deliveryId: string;
  timestamp: number;
  /** The webhook-signature header as received: one `v1,…` per secret the sender holds. */
  signature: string;
  notice: WebhookNotice;
  /** 1 for the first request carrying this delivery id, 2 for its first retry, … */
  attempt: number;
  receivedAt: number;
}

export interface RejectedRequest {
  partner: string;
  deliveryId: string | undefined;
  reason: VerificationFailure | 'unknown-partner' | 'bad-body';
}

/** How the endpoint answers an accepted request: a status, optionally after a delay. */
export type Respond = (
  received: ReceivedNotice,
) => number | { status: number; delayMs?: number } | Promise<number>;

export interface WebhookReceiver {
  readonly baseUrl: string;
  urlFor(partner: string): string;
  /** Every accepted request, retries included, in arrival order. */
  readonly received: ReceivedNotice[];
  readonly rejected: RejectedRequest[];
  /** Accepted requests whose answer was 2xx: what the partner took in. */
  accepted(): ReceivedNotice[];
  respondWith(respond: Respond): void;
  /** The partner's receiver now holds this secret (its side of a rotation). */
  holdSecret(partner: string, secret: string): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(
  initialSecrets: Readonly<Record<string, string>>,
): Promise<WebhookReceiver> {
  const secrets: Record<string, string> = { ...initialSecrets };
  const received: ReceivedNotice[] = [];
  const rejected: RejectedRequest[] = [];
  const answered = new Map<ReceivedNotice, number>();
  let respond: Respond = () => 204;
  // Delayed answers end early when the receiver closes, so no timer outlives a test.
  let signalClosed!: () => void;
  const closed = new Promise<void>((resolve) => (signalClosed = resolve));

  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await rawBody(request);
      const partner = /^\/hooks\/([A-Z]{2})$/.exec(request.url ?? '')?.[1] ?? '';
      const deliveryId = header(request, WEBHOOK_HEADERS.id);
      const reject = (reason: RejectedRequest['reason']) => {
        rejected.push({ partner, deliveryId, reason });
        response.writeHead(401).end();
      };
      const secret = secrets[partner];
      if (request.method !== 'POST' || secret === undefined) return reject('unknown-partner');
      let notice: WebhookNotice;
      try {
        notice = new Webhook(secret).verify(body, {
          [WEBHOOK_HEADERS.id]: header(request, WEBHOOK_HEADERS.id) ?? '',
          [WEBHOOK_HEADERS.timestamp]: header(request, WEBHOOK_HEADERS.timestamp) ?? '',
          [WEBHOOK_HEADERS.signature]: header(request, WEBHOOK_HEADERS.signature) ?? '',
        }) as WebhookNotice;
      } catch (error) {
        return reject(failureOf(error));
      }
      if (
        request.headers['content-type'] !== 'application/json' ||
        notice.deliveryId !== deliveryId
      ) {
        return reject('bad-body');
      }
      const entry: ReceivedNotice = {
        partner,
        deliveryId: notice.deliveryId,
        timestamp: Number(header(request, WEBHOOK_HEADERS.timestamp)),
        signature: header(request, WEBHOOK_HEADERS.signature) ?? '',
        notice,
        attempt: received.filter((r) => r.deliveryId === notice.deliveryId).length + 1,
        receivedAt: Date.now(),
      };
      received.push(entry);
      const answer = await respond(entry);
      const { status, delayMs = 0 } = typeof answer === 'number' ? { status: answer } : answer;
      if (delayMs > 0) await delay(delayMs, closed);
      answered.set(entry, status);
      if (!response.destroyed) response.writeHead(status).end();
    })().catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    baseUrl,
    urlFor: (partner) => `${baseUrl}/hooks/${partner}`,
    received,
    rejected,
    accepted: () =>
      received.filter((r) => {
        const status = answered.get(r) ?? 0;
        return status >= 200 && status < 300;
      }),
    respondWith: (next) => {
      respond = next;
    },
    holdSecret: (partner, secret) => {
      secrets[partner] = secret;
    },
    close: () =>
      new Promise<void>((resolve) => {
        signalClosed();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `check` until it stops throwing (an `expect` inside) or `timeoutMs` passes. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

function delay(ms: number, cancelled: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    cancelled,
  ]).finally(() => clearTimeout(timer));
}

/** The library's error messages, as reasons a test can assert on. */
function failureOf(error: unknown): VerificationFailure | 'bad-body' {
  const message = (error as Error).message ?? '';
  if (/Missing required headers/.test(message)) return 'missing-headers';
  if (/timestamp too (old|new)/.test(message)) return 'outside-window';
  if (/No matching signature/.test(message)) return 'bad-signature';
  if (/Invalid Signature Headers/.test(message)) return 'malformed';
  return 'bad-body';
}

const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

async function rawBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

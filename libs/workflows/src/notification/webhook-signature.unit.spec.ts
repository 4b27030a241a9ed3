import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { signWebhook, webhookHeaders, webhookKey } from './webhook-signature';

// Key bytes 0x00…0x1f (32 bytes), as a Standard Webhooks secret.
const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const SECRET = `whsec_${KEY.toString('base64')}`;
const NEXT = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const BODY = '{"deliveryId":"d-1","subject":"tier-change","tier":2}';
// openssl: printf '%s' "d-1.1767225600.$BODY" | openssl dgst -sha256 -binary \
//   -mac HMAC -macopt hexkey:000102…1f | base64
const EXPECTED = 'v1,AHhaOFsYGcwKNSLy0wnfVxSLdrE6uu3uZ7oWWNyt26E=';

describe(webhookKey.name, () => {
  it('is the base64 part of a whsec_ secret, decoded', () => {
    expect(webhookKey(SECRET)).toEqual(KEY);
  });
});

describe(signWebhook.name, () => {
  it('is v1, base64 HMAC-SHA256 over "<id>.<timestamp>.<body>"', () => {
    expect(signWebhook(SECRET, 'd-1', 1767225600, BODY)).toBe(EXPECTED);
  });

  it('is what the reference Standard Webhooks library computes', () => {
    const sentAt = new Date('2026-01-01T00:00:00.000Z');

    expect(new Webhook(SECRET).sign('d-1', sentAt, BODY)).toBe(EXPECTED);
  });

  it('signs the exact bytes: a string and its UTF-8 buffer give the same signature', () => {
    const body = '{"note":"Türkiye — ☮"}';

    expect(signWebhook(SECRET, 'd', 1, Buffer.from(body, 'utf8'))).toBe(
      signWebhook(SECRET, 'd', 1, body),
    );
  });
});

describe(webhookHeaders.name, () => {
  const sentAt = new Date('2026-01-01T00:00:00.000Z'); // unix 1767225600

  it('carries the id, the unix timestamp of the attempt and the signature', () => {
    expect(webhookHeaders('d-1', [SECRET], BODY, sentAt)).toEqual({
      'Content-Type': 'application/json',
      'webhook-id': 'd-1',
      'webhook-timestamp': '1767225600',
      'webhook-signature': EXPECTED,
    });
  });

  it('signs once per secret during a rotation, space-separated', () => {
    const headers = webhookHeaders('d-1', [SECRET, NEXT], BODY, sentAt);

    expect(headers['webhook-signature']).toBe(
      `${EXPECTED} ${signWebhook(NEXT, 'd-1', 1767225600, BODY)}`,
    );
  });

  describe('verified by a receiver with the reference library', () => {
    const now = () => new Date();

    it.each([
      ['the old secret', SECRET],
      ['the new secret', NEXT],
    ])('accepts a rotation-time request holding %s', (_name, secret) => {
      const headers = webhookHeaders('d-1', [SECRET, NEXT], BODY, now());

      expect(new Webhook(secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    });

    it('refuses a request when the receiver holds another secret', () => {
      const headers = webhookHeaders('d-1', [SECRET, NEXT], BODY, now());
      const other = new Webhook(`whsec_${Buffer.alloc(32, 9).toString('base64')}`);

      expect(() => other.verify(BODY, headers)).toThrow(WebhookVerificationError);
    });

    it.each([
      ['a changed body', (h: Record<string, string>) => ({ ...h }), BODY.replace('2', '3')],
      ['another id', (h: Record<string, string>) => ({ ...h, 'webhook-id': 'd-2' }), BODY],
      [
        'a timestamp changed after signing',
        (h: Record<string, string>) => ({
          ...h,
          'webhook-timestamp': String(Number(h['webhook-timestamp']) + 1),
        }),
        BODY,
      ],
    ])('refuses %s', (_name, tamper, body) => {
      const headers = tamper(webhookHeaders('d-1', [SECRET], BODY, now()));

      expect(() => new Webhook(SECRET).verify(body, headers)).toThrow(WebhookVerificationError);
    });

    it('refuses a request sent more than 5 minutes ago', () => {
      const headers = webhookHeaders('d-1', [SECRET], BODY, new Date(Date.now() - 301_000));

      expect(() => new Webhook(SECRET).verify(BODY, headers)).toThrow(/too old/);
    });
  });
});

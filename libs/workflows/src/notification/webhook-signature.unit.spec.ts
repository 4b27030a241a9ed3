import { signWebhook, verifyWebhook, webhookHeaders } from './webhook-signature';

const SECRET = 'gb-secret-0123456789';
const BODY = '{"deliveryId":"d-1","subject":"tier-change","tier":2}';
const SENT_AT = new Date('2026-01-01T00:00:00.000Z'); // unix 1767225600
// openssl: printf '%s' "1767225600.$BODY" | openssl dgst -sha256 -hmac "$SECRET"
const EXPECTED = 'sha256=9b489c6d2261e4a87668f319531ef45e8d19236e7e1c6d1b687cf86ea3360110';

describe(signWebhook.name, () => {
  it('is HMAC-SHA256 over "<timestamp>.<body>", hex, prefixed with the scheme', () => {
    expect(signWebhook(SECRET, 1767225600, BODY)).toBe(EXPECTED);
  });

  it('signs the exact bytes: a string and its UTF-8 buffer give the same signature', () => {
    const body = '{"note":"Türkiye — ☮"}';

    expect(signWebhook(SECRET, 1, Buffer.from(body, 'utf8'))).toBe(signWebhook(SECRET, 1, body));
  });
});

describe(webhookHeaders.name, () => {
  it('carries the delivery id, the unix timestamp of the attempt and the signature', () => {
    expect(webhookHeaders('d-1', SECRET, BODY, SENT_AT)).toEqual({
      'Content-Type': 'application/json',
      'X-Truceline-Delivery': 'd-1',
      'X-Truceline-Timestamp': '1767225600',
      'X-Truceline-Signature': EXPECTED,
    });
  });
});

describe(verifyWebhook.name, () => {
  const request = (overrides: Partial<Parameters<typeof verifyWebhook>[0]> = {}) => ({
    secret: SECRET,
    body: BODY,
    timestamp: '1767225600',
    signature: EXPECTED,
    now: new Date(SENT_AT.getTime() + 60_000),
    ...overrides,
  });

  it('accepts a genuine request within the replay window', () => {
    expect(verifyWebhook(request())).toEqual({ ok: true, timestamp: 1767225600 });
  });

  it.each([
    ['another secret', { secret: 'fr-secret-0123456789' }, 'bad-signature'],
    ['a changed body', { body: BODY.replace('2', '3') }, 'bad-signature'],
    ['a changed timestamp', { timestamp: '1767225601' }, 'bad-signature'],
    [
      'a timestamp 5 min + 1 s old',
      { now: new Date(SENT_AT.getTime() + 301_000) },
      'outside-window',
    ],
    [
      'a timestamp from the future',
      { now: new Date(SENT_AT.getTime() - 301_000) },
      'outside-window',
    ],
    ['no signature', { signature: undefined }, 'missing-headers'],
    ['no timestamp', { timestamp: undefined }, 'missing-headers'],
    ['another scheme', { signature: EXPECTED.replace('sha256=', 'sha1=') }, 'malformed'],
    ['a truncated signature', { signature: EXPECTED.slice(0, -2) }, 'malformed'],
    ['a timestamp in ms', { timestamp: '1767225600000x' }, 'malformed'],
  ])('rejects %s', (_name, overrides, reason) => {
    expect(verifyWebhook(request(overrides))).toEqual({ ok: false, reason });
  });
});

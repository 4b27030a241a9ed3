import fc from 'fast-check';
import { sign } from 'jsonwebtoken';
import {
  describe as describeExchange,
  inParallel,
  seedFrom,
  seedTargets,
  send,
  Targets,
} from './support/contract-kit';
import { hostileRequest, HostileRequest } from './support/hostile';
import { describeOnEachStore } from './support/on-each-store';
import { OpenApiDocument, operationsOf } from './support/openapi';
import { OPERATOR } from './support/truceline-api';

/**
 * No input, however hostile, yields a 5xx, and a refused request changes nothing (SPEC §6).
 * Thousands of generated requests over every route of the OpenAPI document — wrong types, huge
 * and unicode strings, deep nesting, unknown and prototype keys, bad and forged tokens, bad
 * headers, wrong methods — go to the real app on each store, in batches over keep-alive. Every
 * write carries a defect of its own and must be refused; after each batch the log's head must
 * stand where it stood.
 */
const REQUESTS_PER_STORE = Number(process.env.HOSTILE_RUNS ?? 5_000);
const BATCH = 200;
const CONCURRENCY = 16;
const SEED = seedFrom('HOSTILE_SEED');
// Generous: on a loaded CI machine thousands of requests take minutes, and a timeout is no finding.
jest.setTimeout(600_000);

describeOnEachStore('hostile input on %s', (suite) => {
  const { settledHead } = suite;
  let document: OpenApiDocument;
  let targets: Targets;

  beforeAll(async () => {
    document = await suite.openApi();
    targets = await seedTargets(suite.api);
  }, 60_000);

  it('refuses each hostile case SPEC §6 names, with the status it names', async () => {
    const { api } = suite;
    const token = api.token(OPERATOR);
    const post = (body: string, headers: Record<string, string> = {}) =>
      send(suite.system.baseUrl, {
        method: 'POST',
        target: '/v1/incidents',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          ...headers,
        },
        body,
      });
    const head = await settledHead();

    const deep = await post('{"a":'.repeat(5000) + '1' + '}'.repeat(5000));
    const proto = await post('{"__proto__":{"x":1},"summary":"s"}');
    const ctor = await post('{"constructor":{"name":"x"},"summary":"s"}');
    const large = await post(JSON.stringify({ summary: 'x'.repeat(65 * 1024) }));
    const plain = await post('summary=x', { 'content-type': 'text/plain' });
    const forever = await send(suite.system.baseUrl, {
      method: 'GET',
      target: '/v1/incidents',
      headers: {
        authorization: `Bearer ${sign({ sub: 'x', role: 'operator' }, suite.system.jwtSecret)}`,
      },
    });
    const wrongMethod = await send(suite.system.baseUrl, {
      method: 'DELETE',
      target: '/v1/incidents',
      headers: { authorization: `Bearer ${token}` },
    });

    expect(deep).toMatchObject({
      status: 400,
      body: { errors: [{ message: expect.stringMatching(/32 levels/) }] },
    });
    expect(proto).toMatchObject({
      status: 400,
      body: {
        errors: expect.arrayContaining([
          { field: '__proto__', message: 'property __proto__ should not exist' },
        ]),
      },
    });
    expect(ctor).toMatchObject({
      status: 400,
      body: {
        errors: expect.arrayContaining([
          { field: 'constructor', message: 'property constructor should not exist' },
        ]),
      },
    });
    expect(large.status).toBe(413);
    expect(plain.status).toBe(415);
    expect(forever).toMatchObject({
      status: 401,
      body: { detail: 'the token must carry an exp claim' },
    });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(await settledHead()).toBe(head);
  });

  it('never answers 5xx, refuses every defective write and appends nothing', async () => {
    const operations = operationsOf(document);
    const requests = fc.sample(
      hostileRequest({ document, operations, targets, secret: suite.system.jwtSecret }),
      { numRuns: REQUESTS_PER_STORE, seed: SEED },
    );
    const started = Date.now();
    const findings = new Map<string, { count: number; example: string }>();
    const note = (kind: string, example: string) => {
      const seen = findings.get(kind);
      if (seen) seen.count++;
      else findings.set(kind, { count: 1, example });
    };
    const statuses = new Map<number, number>();
    const reached = new Set<string>();

    let head = await settledHead();
    for (let from = 0; from < requests.length; from += BATCH) {
      const batch = requests.slice(from, from + BATCH);
      await inParallel(batch, CONCURRENCY, async (request: HostileRequest) => {
        const sent = await send(suite.system.baseUrl, request).catch((error: unknown) => ({
          status: 0,
          headers: new Headers(),
          contentType: '',
          body: `${String(error)} ${String((error as { cause?: unknown }).cause)}`,
        }));
        statuses.set(sent.status, (statuses.get(sent.status) ?? 0) + 1);
        if (request.operation) reached.add(request.operation.name);
        const account = `${describeExchange(request, sent)} (defect: ${request.defect})`;
        const route = request.operation?.name ?? 'elsewhere';
        if (sent.status === 0) note(`${route}: no answer`, account);
        else if (sent.status >= 500) note(`${route}: ${sent.status}`, account);
        else if (!['GET', 'HEAD', 'OPTIONS'].includes(request.method) && sent.status < 400)
          note(`${route}: defective write accepted (${sent.status})`, account);
        else if (sent.status >= 400 && sent.status !== 431 && !isProblem(sent))
          note(`${route}: ${sent.status} without problem+json`, account);
      });
      const now = await settledHead();
      if (now !== head) {
        note(
          `the head moved from ${head} to ${now} during a batch of refused requests`,
          batch.map((r) => `${r.method} ${r.target.slice(0, 80)}`).join('\n'),
        );
        head = now;
      }
    }

    const text = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    console.log(
      `[hostile] ${requests.length} requests over ${reached.size} operations in ` +
        `${Date.now() - started} ms (seed ${SEED}): ${text}`,
    );
    expect(reached.size).toBe(operations.length);
    expect([...findings.entries()]).toEqual([]);
  });
});

function isProblem(sent: { contentType: string; body: unknown }): boolean {
  const body = sent.body as { status?: unknown; type?: unknown } | undefined;
  return (
    sent.contentType.startsWith('application/problem+json') &&
    typeof body?.status === 'number' &&
    typeof body.type === 'string'
  );
}

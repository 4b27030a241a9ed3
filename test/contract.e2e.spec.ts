import type { Role } from '@truceline/domain';
import fc from 'fast-check';
import {
  Caller,
  describe as describeExchange,
  inParallel,
  PARTNERS,
  seedFrom,
  seedTargets,
  send,
  Targets,
  toRaw,
  tokenFor,
} from './support/contract-kit';
import { describeOnEachStore } from './support/on-each-store';
import {
  OpenApiDocument,
  Operation,
  operationsOf,
  requestOf,
  ResponseValidators,
} from './support/openapi';

/**
 * The OpenAPI document is the contract (SPEC §6): requests generated from `/docs-json` itself
 * — every operation it lists, parameters, headers and bodies drawn from its JSON schemas, with
 * a token of a role the operation names in `x-roles` — are sent to the real app on each store.
 * A finding is a 5xx, a status or body the document does not describe for that operation, or a
 * schema-valid request refused as malformed (a 400 naming a field with no documented `x-rule`).
 */

/** Requests per operation and store: about 1,000 per store. */
const RUNS_PER_OPERATION = Number(process.env.CONTRACT_RUNS ?? 40);
const CONCURRENCY = 8;
const SEED = seedFrom('CONTRACT_SEED');
// Generous: on a loaded CI machine a thousand requests per store take minutes, and a timeout is no finding.
jest.setTimeout(600_000);

describeOnEachStore('the OpenAPI contract on %s', (suite) => {
  let document: OpenApiDocument;
  let operations: Operation[];
  let targets: Targets;

  beforeAll(async () => {
    document = await suite.openApi();
    operations = operationsOf(document);
    targets = await seedTargets(suite.api);
    await suite.system.runtime.settle();
  }, 60_000);

  it('documents every response of every route with a schema', () => {
    const validators = new ResponseValidators(document);

    expect(operations.length).toBeGreaterThan(20);
    expect(operations.flatMap((operation) => validators.undocumentedBodies(operation))).toEqual([]);
  });

  it('answers every schema-valid request as the document says', async () => {
    const validators = new ResponseValidators(document);
    const started = Date.now();
    const requests = operations.flatMap((operation, index) =>
      fc.sample(
        fc.tuple(
          requestOf(document, operation, {
            id: fc.constantFrom(...targets.incidentIds),
            taskId: fc.constantFrom(...targets.taskIds),
          }),
          callerOf(operation),
        ),
        { numRuns: RUNS_PER_OPERATION, seed: SEED + index },
      ),
    );

    // One example of each kind of finding (operation and what is wrong), with a count.
    const findings = new Map<string, { count: number; example: string }>();
    await inParallel(requests, CONCURRENCY, async ([request, caller]) => {
      const raw = toRaw(request, caller ? tokenFor(suite.system, caller) : undefined);
      const sent = await send(suite.system.baseUrl, raw);
      const problem = findingOf(request.operation, sent, validators);
      if (!problem) return;
      const kind = `${problem.slice(0, 160)} ${sent.status}`;
      const seen = findings.get(kind);
      if (seen) seen.count++;
      else findings.set(kind, { count: 1, example: `${problem}: ${describeExchange(raw, sent)}` });
    });

    const byStatus = countStatuses(requests.length);
    console.log(
      `[contract] ${requests.length} requests over ${operations.length} operations in ` +
        `${Date.now() - started} ms (seed ${SEED}) ${byStatus}`,
    );
    expect([...findings.values()]).toEqual([]);
  });
});

/** Mostly a role the operation names (with a partner where the role needs one). */
function callerOf(operation: Operation): fc.Arbitrary<Caller | undefined> {
  if (!operation.roles) return fc.constant(undefined);
  return fc.record({
    role: fc.constantFrom(...(operation.roles as Role[])),
    partner: fc.constantFrom(...PARTNERS),
  });
}

const statuses = new Map<number, number>();
const countStatuses = (total: number) => {
  const text = [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  statuses.clear();
  return `(${total}: ${text})`;
};

/** What is wrong with an answer to a schema-valid request, or null. */
function findingOf(
  operation: Operation,
  sent: { status: number; contentType: string; body: unknown },
  validators: ResponseValidators,
): string | null {
  statuses.set(sent.status, (statuses.get(sent.status) ?? 0) + 1);
  if (sent.status >= 500) return `${operation.name}: server error ${sent.status}`;
  const mismatch = validators.check(operation, sent.status, sent.contentType, sent.body);
  if (mismatch) return `${operation.name}: ${mismatch}`;
  if (sent.status === 400) {
    const fields = ((sent.body as { errors?: { field: string }[] }).errors ?? []).map(
      (e) => e.field,
    );
    const unruled = fields.filter((field) => !operation.ruleFields.has(field));
    if (fields.length === 0 || unruled.length > 0) {
      return `${operation.name}: schema-valid request refused as malformed (${unruled.join(', ') || 'no field named'})`;
    }
  }
  return null;
}

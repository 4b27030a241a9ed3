import { randomUUID } from 'node:crypto';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { StoredEvent } from '@truceline/domain';
import vectors from './testdata/jcs-vectors.json';
import { canonicalJson, plainJson } from './canonical-json';
import { canonicalEnvelope, leafHashHexOfJsonText, leafHashOf, sealedEnvelope } from './leaf';
import { hashLeaf } from './merkle/hashes';

/** Both answers, or both refusals: the direct path may never differ from the package. */
const outcome = (canonical: (value: unknown) => string | undefined, value: unknown) => {
  try {
    return { text: canonical(value) };
  } catch {
    return { refused: true };
  }
};

describe(canonicalJson.name, () => {
  it.each(vectors.cases)('gives the published canonical form of $name', ({ input, output }) => {
    const value: unknown = JSON.parse(input);

    expect(plainJson(value)).toBe(output);
    expect(canonicalJson(value)).toBe(output);
    expect(canonicalize(value)).toBe(output);
  });

  it.each(vectors.numbers)('prints the IEEE 754 value $bits as $text', ({ bits, text }) => {
    const number = Buffer.from(bits, 'hex').readDoubleBE(0);

    expect(plainJson(number)).toBe(text);
    expect(plainJson([number])).toBe(`[${text}]`);
  });

  it('equals the canonicalize package on any JSON, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (value) => {
        expect(outcome(canonicalJson, value)).toEqual(outcome(canonicalize, value));
        // What JSON.parse hands the sealer: the direct path alone, when it takes it.
        const parsed: unknown = JSON.parse(JSON.stringify(value));
        const direct = plainJson(parsed);
        if (direct !== undefined) expect(direct).toBe(canonicalize(parsed));
      }),
      { numRuns: 2_000 },
    );
  });

  it('leaves to the package what JSON.parse never builds', () => {
    const odd = [
      { at: new Date(0) },
      { toJSON: () => ({ b: 1, a: 2 }) },
      { kept: 1, dropped: undefined },
      [1, undefined, () => 2],
      { n: NaN },
      { n: -Infinity },
      { ['\ud800']: 'lone surrogate key' },
      Object.assign(Object.create(null) as object, { b: 1, a: 2 }),
      [new Number(1), new String('s'), new Boolean(false)],
    ];
    for (const value of odd) {
      expect(plainJson(value)).toBeUndefined();
      expect(outcome(canonicalJson, value)).toEqual(outcome(canonicalize, value));
    }
  });
});

describe(canonicalEnvelope.name, () => {
  const event = (data: unknown): StoredEvent => ({
    id: randomUUID(),
    type: 'BreachReported',
    schemaVersion: 1,
    streamId: `incident-${randomUUID()}`,
    revision: 3,
    position: 12_345,
    occurredAt: '2026-03-02T04:00:00.123Z',
    recordedAt: '2026-03-02T04:00:01.456Z',
    data,
    metadata: {
      correlationId: randomUUID(),
      causationId: null,
      actor: { id: 'operator-1', role: 'operator', partner: 'EU' },
      policyVersion: 2,
    },
  });

  it('is the canonical JSON of the sealed envelope, and the leaf its RFC 9162 leaf hash', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (data) => {
        const e = event(data);
        const text = canonicalize(sealedEnvelope(e))!;

        expect(canonicalEnvelope(e)).toBe(text);
        expect(leafHashOf(e)).toEqual(hashLeaf(Buffer.from(text, 'utf8')));
      }),
      { numRuns: 500 },
    );
  });

  it('is the same leaf from data and metadata read as JSON text (the sealing thread)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (data) => {
        // What the server prints and pg would parse: a string or a number as data included.
        const e = event(JSON.parse(JSON.stringify(data)));
        const text = { ...e, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata) };

        expect(leafHashHexOfJsonText(text)).toBe(leafHashOf(e).toString('hex'));
      }),
      { numRuns: 500 },
    );
  });
});

import { ValidationError } from '@truceline/domain';
import { commandContextOf, parseIfMatch } from './command-context';

const actor = { id: 'ops-1', role: 'operator' as const };

describe(parseIfMatch.name, () => {
  it.each([
    ['"3"', 3],
    ['W/"3"', 3],
    ['3', 3],
    [' "0" ', 0],
    ['*', undefined],
    [undefined, undefined],
  ])('reads %p as %p', (header, expected) => {
    expect(parseIfMatch(header)).toBe(expected);
  });

  it.each(['', '"3', 'three', '"-1"', '"1", "2"', '"1.5"', 'W/3x', '"9999999999999999"'])(
    'refuses %p',
    (header) => {
      expect(() => parseIfMatch(header)).toThrow(ValidationError);
    },
  );
});

describe(commandContextOf.name, () => {
  it('reads the idempotency key, expected revision and correlation id', () => {
    const sut = commandContextOf(
      { 'idempotency-key': 'k-1', 'if-match': '"7"', 'x-correlation-id': 'c-1' },
      actor,
    );

    expect(sut).toEqual({
      actor,
      idempotencyKey: 'k-1',
      expectedRevision: 7,
      correlationId: 'c-1',
    });
  });

  it('leaves out what the request does not carry', () => {
    expect(commandContextOf({}, actor)).toEqual({ actor });
  });

  it('reports every bad header at once', () => {
    const headers = { 'idempotency-key': 'k'.repeat(201), 'if-match': 'x', 'x-correlation-id': '' };

    let error: unknown;
    try {
      commandContextOf(headers, actor);
    } catch (e) {
      error = e;
    }

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).fields.map((f) => f.field)).toEqual([
      'Idempotency-Key',
      'X-Correlation-Id',
      'If-Match',
    ]);
  });

  it('accepts an Idempotency-Key of 1 and of 200 characters', () => {
    expect(commandContextOf({ 'idempotency-key': 'k' }, actor).idempotencyKey).toBe('k');
    expect(commandContextOf({ 'idempotency-key': 'k'.repeat(200) }, actor).idempotencyKey).toBe(
      'k'.repeat(200),
    );
  });
});

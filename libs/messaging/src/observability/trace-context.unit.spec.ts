import { childTraceparent, formatTraceparent, parseTraceparent } from './trace-context';

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe(parseTraceparent.name, () => {
  it('reads the parts of a version 00 header', () => {
    expect(parseTraceparent(PARENT)).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: '01',
    });
  });

  it.each([
    ['absent', undefined],
    ['garbage', 'not-a-traceparent'],
    ['an all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['an all-zero span id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
    ['version 00 with more fields', `${PARENT}-extra`],
  ])('refuses %s', (_why, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('round-trips through formatTraceparent', () => {
    const sut = parseTraceparent(PARENT);

    expect(sut && formatTraceparent(sut)).toBe(PARENT);
  });
});

describe(childTraceparent.name, () => {
  it('keeps the trace and flags and derives the span from the seed, the same every time', () => {
    const sut = childTraceparent(PARENT, 'reaction-id');

    expect(sut).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(sut).not.toBe(PARENT);
    expect(childTraceparent(PARENT, 'reaction-id')).toBe(sut);
    expect(childTraceparent(PARENT, 'another-reaction')).not.toBe(sut);
  });

  it('gives nothing without a valid parent', () => {
    expect(childTraceparent(undefined, 'reaction-id')).toBeUndefined();
    expect(childTraceparent('bogus', 'reaction-id')).toBeUndefined();
  });
});

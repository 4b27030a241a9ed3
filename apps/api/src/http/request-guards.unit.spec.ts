import type { Socket } from 'node:net';
import { answerClientError, bodyShapeProblems, MAX_JSON_DEPTH } from './request-guards';

const nested = (levels: number): unknown =>
  JSON.parse('{"a":'.repeat(levels) + '1' + '}'.repeat(levels));

describe('bodyShapeProblems', () => {
  it('accepts JSON nested exactly as deep as allowed', () => {
    expect(bodyShapeProblems(nested(MAX_JSON_DEPTH))).toEqual([]);
  });

  it('refuses JSON one level deeper, and 5,000 levels without exhausting the stack', () => {
    expect(bodyShapeProblems(nested(MAX_JSON_DEPTH + 1))).toHaveLength(1);
    expect(bodyShapeProblems(nested(5_000))[0]!.message).toMatch(/deeper than 32 levels/);
  });

  it('names every prototype key as an unknown field, however deep', () => {
    const body = JSON.parse(
      '{"__proto__":{"x":1},"location":{"constructor":{}},"list":[{"prototype":0}]}',
    ) as unknown;

    expect(
      bodyShapeProblems(body)
        .map((p) => p.field)
        .sort(),
    ).toEqual(['__proto__', 'list.0.prototype', 'location.constructor']);
  });

  it('passes plain bodies, scalars and absent bodies', () => {
    expect(bodyShapeProblems({ a: [1, { b: 'constructor' }] })).toEqual([]);
    expect(bodyShapeProblems(undefined)).toEqual([]);
    expect(bodyShapeProblems('text')).toEqual([]);
  });
});

describe('answerClientError', () => {
  it('answers headers too large with Connection: close, so no client reuses the socket', () => {
    const written: string[] = [];
    let destroyed = false;
    const socket = {
      destroyed: false,
      writable: true,
      write: (text: string) => written.push(text),
      destroy: () => (destroyed = true),
    } as unknown as Socket;
    answerClientError(
      Object.assign(new Error('too large'), { code: 'HPE_HEADER_OVERFLOW' }),
      socket,
    );
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(written[0]).toContain('\r\nConnection: close\r\n');
    expect(destroyed).toBe(true);
  });
});

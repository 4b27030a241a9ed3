import { MessageWriter, PostgresError, readAnswer, toParameter } from './pglite-wire';

/** A backend message: type byte, length, body. */
const message = (type: string, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const cstring = (text: string) => Buffer.from(`${text}\0`);
const int16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const column = (name: string, type: number) =>
  Buffer.concat([cstring(name), int32(0), int16(0), int32(type), int16(4), int32(-1), int16(0)]);
const value = (text: string | null) =>
  text === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(text)), Buffer.from(text)]);

describe('toParameter: values as pg sends them', () => {
  it.each([
    [null, null],
    [undefined, null],
    ['text', 'text'],
    [42, '42'],
    [10n, '10'],
    [true, 'true'],
    [new Date('2026-01-02T03:04:05.678Z'), '2026-01-02T03:04:05.678Z'],
    [{ a: [1, 'b'] }, '{"a":[1,"b"]}'],
    [Buffer.from([0, 255]), '\\x00ff'],
    [['a', 'b "c"', null, 'd\\e', 'f,g'], '{"a","b \\"c\\"",NULL,"d\\\\e","f,g"}'],
    [[[1, 2], [3]], '{{"1","2"},{"3"}}'],
  ])('%p → %p', (input, expected) => {
    expect(toParameter(input)).toEqual(expected);
  });
});

describe('MessageWriter', () => {
  it('frames each message with its type and length', () => {
    const bytes = Buffer.from(new MessageWriter().parse('s1', 'SELECT $1').sync().finish());
    expect(bytes[0]).toBe('P'.charCodeAt(0));
    const parseLength = bytes.readInt32BE(1);
    expect(bytes.subarray(5, 1 + parseLength).toString('latin1')).toBe('s1\0SELECT $1\0\0\0');
    expect([...bytes.subarray(1 + parseLength)]).toEqual([0x53, 0, 0, 0, 4]);
  });

  it('writes parameters longer than its first buffer', () => {
    const long = 'é'.repeat(10_000);
    const bytes = Buffer.from(new MessageWriter().bind('s1', [long, null]).finish());
    expect(bytes.readInt32BE(1)).toBe(bytes.length - 1);
    expect(bytes.includes(Buffer.from(long))).toBe(true);
  });
});

describe('readAnswer', () => {
  const parsers = { 23: (text: string) => Number(text) };

  it('reads rows by column name, parsing the types it has parsers for', () => {
    const answer = readAnswer<Record<string, unknown>>(
      Buffer.concat([
        message('1'),
        message('2'),
        message('T', int16(2), column('n', 23), column('name', 25)),
        message('D', int16(2), value('7'), value('seven')),
        message('D', int16(2), value(null), value('ü')),
        message('C', cstring('SELECT 2')),
        message('Z', Buffer.from('I')),
      ]),
      parsers,
    );
    expect(answer).toEqual({
      rows: [
        { n: 7, name: 'seven' },
        { n: null, name: 'ü' },
      ],
      parsed: true,
      command: 'SELECT',
      ddl: false,
    });
  });

  it('tells when a script changed the schema', () => {
    const answer = readAnswer(
      Buffer.concat([
        message('C', cstring('BEGIN')),
        message('C', cstring('ALTER TABLE')),
        message('C', cstring('COMMIT')),
        message('Z', Buffer.from('I')),
      ]),
      parsers,
    );
    expect(answer).toMatchObject({ command: 'COMMIT', ddl: true });
  });

  it('answers the first error with its fields, and no rows', () => {
    const error = Buffer.concat([
      Buffer.from('SERROR\0C23505\0Mduplicate key value\0Dthe detail\0nitems_pkey\0'),
      Buffer.from([0]),
    ]);
    const answer = readAnswer(
      Buffer.concat([message('E', error), message('Z', Buffer.from('I'))]),
      parsers,
    );
    expect(answer.parsed).toBe(false);
    expect(answer.ddl).toBe(false);
    expect(answer.error).toBeInstanceOf(PostgresError);
    expect(answer.error).toMatchObject({
      message: 'duplicate key value',
      code: '23505',
      detail: 'the detail',
      constraint: 'items_pkey',
      severity: 'ERROR',
    });
  });
});

import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Message } from 'kafkajs';
import { encodeProduce, ProduceRequestArgs, useOnePassProduceEncoding } from './produce-encoding';

// kafkajs's own definition of the produce request: the reference every encoding is held to.
const produce = require('kafkajs/src/protocol/requests/produce') as {
  protocol(version: { version: number }): (args: ProduceRequestArgs) => {
    request: { apiVersion: number; encode(): Promise<{ buffer: Buffer }> };
  };
};
const Long = require('kafkajs/src/utils/long') as { fromValue(value: unknown): unknown };

const NOW = Date.UTC(2026, 11, 2, 5, 0, 0, 123);

/** Where two encodings first differ (-1 when equal): jest's deep equality is slow on Buffers. */
function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return length;
}

const bytesOf = (encoder: { buf: Buffer; offset: number }) =>
  encoder.buf.subarray(0, encoder.offset);

/** kafkajs's bytes for the request, with its own encoder. */
async function kafkajsBytes(args: ProduceRequestArgs, version = 7): Promise<Buffer> {
  useOnePassProduceEncoding(false);
  try {
    return (await produce.protocol({ version })(args).request.encode()).buffer;
  } finally {
    useOnePassProduceEncoding(true);
  }
}

const text = (max: number) =>
  Array.from({ length: randomInt(0, max) }, () =>
    // ASCII, two-, three- and four-byte UTF-8 alike.
    String.fromCodePoint(
      [randomInt(32, 127), randomInt(0xa0, 0x800), 0x20ac, 0x1f600][randomInt(4)],
    ),
  ).join('');

function aMessage(): Message {
  const headers: Record<string, string | Buffer> = {};
  for (let i = randomInt(0, 14); i > 0; i--)
    headers[`ce_${text(12)}${i}`] = randomInt(4) === 0 ? randomBytes(randomInt(0, 40)) : text(80);
  const choice = randomInt(4);
  return {
    key: choice === 0 ? null : choice === 1 ? randomBytes(16) : text(40),
    value: randomInt(6) === 0 ? null : randomInt(3) === 0 ? randomBytes(300) : text(400),
    headers,
  };
}

function aRequest(overrides: Partial<ProduceRequestArgs> = {}): ProduceRequestArgs {
  return {
    acks: -1,
    timeout: 30_000,
    compression: 0,
    transactionalId: randomInt(2) === 0 ? null : `truceline-relay.${text(20)}`,
    producerId: Long.fromValue(randomInt(0, 2 ** 40)) as { toString(): string },
    producerEpoch: randomInt(0, 30_000),
    topicData: Array.from({ length: randomInt(1, 4) }, () => ({
      topic: `truceline.feed.${randomUUID().slice(0, 2)}.v1`,
      partitions: Array.from({ length: randomInt(1, 3) }, (_, partition) => ({
        partition,
        firstSequence: randomInt(0, 2 ** 31 - 1),
        // Past 64 records, offset deltas and sizes take varints of two bytes and more.
        messages: Array.from({ length: randomInt(0, 80) }, aMessage),
      })),
    })),
    ...overrides,
  };
}

describe('one-pass produce encoding', () => {
  let now: jest.SpiedFunction<typeof Date.now>;
  // Both encoders stamp the batch with Date.now(): one instant for both.
  beforeEach(() => (now = jest.spyOn(Date, 'now').mockReturnValue(NOW)));
  afterEach(() => now.mockRestore());

  it('writes the bytes kafkajs writes, for random requests', async () => {
    for (let i = 0; i < 25; i++) {
      const args = aRequest();
      expect(firstDifference(bytesOf(encodeProduce(args)), await kafkajsBytes(args))).toBe(-1);
    }
  });

  it('writes what a partner-feed transaction sends: CloudEvents headers, no producer id yet', async () => {
    const args = aRequest({
      transactionalId: 'truceline-relay.feeds',
      producerId: undefined,
      producerEpoch: undefined,
      topicData: [
        {
          topic: 'truceline.feed.pl.v1',
          partitions: [
            {
              partition: 0,
              messages: [
                {
                  key: randomUUID(),
                  value: '{"tier":1,"incidentId":"x","previousTier":0}',
                  headers: { ce_specversion: '1.0', ce_id: randomUUID(), ce_seq: '12' },
                },
              ],
            },
          ],
        },
      ],
    });
    expect(firstDifference(bytesOf(encodeProduce(args)), await kafkajsBytes(args))).toBe(-1);
  });

  it('leaves to kafkajs what it does not write itself', async () => {
    const withTimestamp = aRequest();
    withTimestamp.topicData[0].partitions[0].messages = [{ ...aMessage(), timestamp: '17' }];
    const compressed = aRequest({ compression: 1 });
    const repeatedHeader = aRequest();
    repeatedHeader.topicData[0].partitions[0].messages = [
      { key: 'k', value: 'v', headers: { a: ['1', '2'] } },
    ];
    useOnePassProduceEncoding(true);
    for (const args of [withTimestamp, compressed, repeatedHeader]) {
      const sent = await produce.protocol({ version: 7 })(args).request.encode();
      expect(firstDifference(sent.buffer, await kafkajsBytes(args))).toBe(-1);
    }
    const plain = aRequest();
    const sent = await produce.protocol({ version: 7 })(plain).request.encode();
    expect(firstDifference(sent.buffer, bytesOf(encodeProduce(plain)))).toBe(-1);
    expect(produce.protocol({ version: 7 })(plain).request.apiVersion).toBe(7);
  });
});

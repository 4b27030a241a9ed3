import type { Message } from 'kafkajs';

/**
 * Produce requests encoded in one pass into one buffer, byte for byte as kafkajs encodes them.
 *
 * kafkajs builds every record from a dozen small encoders: one per header and one per record,
 * each a zero-filled 512-byte Buffer, copied into the record, the record into the batch, the
 * batch into the partition and so on up, with 64-bit arithmetic in software for every record's
 * timestamp delta. A partner-feed message carries eleven CloudEvents headers, and each
 * BreachConfirmed makes twenty of them: `--cpu-prof` of the relay at 500 breaches/s put about
 * half of its CPU in that encoding, its Buffer allocations and the garbage they left.
 *
 * This writes the same bytes (Kafka's record batch v2, the layout of kafkajs 2.2's produce
 * request v3, which v4 to v7 reuse) with one allocation per request. Anything it does not
 * cover exactly (compression, message timestamps, header values that are not one string or
 * Buffer, keys or values that kafkajs would stringify) goes to kafkajs's own encoder unchanged,
 * so what reaches the broker is always what kafkajs would have sent; the unit spec holds the
 * two equal. kafkajs asks `Produce.protocol` for the request at every send, so replacing that
 * one function covers every producer of the process.
 */

/** The part of kafkajs's Encoder this uses: it wraps a finished buffer. */
interface KafkaEncoder {
  buf: Buffer;
  offset: number;
}

interface ProducePartition {
  partition: number;
  firstSequence?: number;
  messages: Message[];
}

export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  compression?: number;
  transactionalId?: string | null;
  /** A kafkajs Long (or a number); written as a signed 64-bit integer. */
  producerId?: { toString(): string } | number;
  producerEpoch?: number;
  topicData: { topic: string; partitions: ProducePartition[] }[];
}

interface ProduceRequest {
  apiVersion: number;
  encode(): Promise<KafkaEncoder>;
}

type ProduceProtocol = (version: { version: number }) => (args: ProduceRequestArgs) => {
  request: ProduceRequest;
};

interface ProduceDefinition {
  protocol: ProduceProtocol;
}

// kafkajs's internals, loaded through the same module registry kafkajs itself uses (in jest
// too), so the definition changed here is the one its brokers look up.
/* eslint-disable @typescript-eslint/no-require-imports */
const produceDefinition: ProduceDefinition = require('kafkajs/src/protocol/requests/produce');
const KafkajsEncoder: new (size?: number) => KafkaEncoder = require('kafkajs/src/protocol/encoder');
const crc32C: (buffer: Buffer) => number = require('kafkajs/src/protocol/recordBatch/crc32C');
/* eslint-enable @typescript-eslint/no-require-imports */

const kafkajsProtocol = produceDefinition.protocol;
/** Record batch v2 (KIP-98), the only format produce v3 and later send. */
const MAGIC = 2;
const TRANSACTIONAL = 0x10;
const NO_COMPRESSION = 0;
/** Before the records: firstOffset, length, leader epoch, magic, crc, then the batch's body. */
const BATCH_HEAD = 8 + 4 + 4 + 1 + 4;
/** The body's fields up to its records: attributes … firstSequence, then the record count. */
const BODY_HEAD = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

let enabled = false;

/**
 * Turns the one-pass encoding on (the default for every process: `createKafka` does it) or
 * off (the benches' raw kafkajs baseline).
 */
export function useOnePassProduceEncoding(on = true): void {
  enabled = on;
  produceDefinition.protocol = on ? onePassProtocol : kafkajsProtocol;
}

const onePassProtocol: ProduceProtocol = (version) => {
  const kafkajsRequest = kafkajsProtocol(version);
  if (version.version < 3) return kafkajsRequest;
  return (args) => {
    const made = kafkajsRequest(args);
    if (!enabled || !covered(args)) return made;
    return { ...made, request: { ...made.request, encode: async () => encodeProduce(args) } };
  };
};

/** What this encoder writes exactly as kafkajs would; everything else stays with kafkajs. */
function covered(args: ProduceRequestArgs): boolean {
  if ((args.compression ?? NO_COMPRESSION) !== NO_COMPRESSION) return false;
  for (const { partitions } of args.topicData)
    for (const { messages } of partitions)
      for (const message of messages) {
        if (message.timestamp != null) return false;
        if (!plainBytes(message.key) || !plainBytes(message.value)) return false;
        const headers = message.headers;
        if (headers == null) continue;
        for (const name in headers) {
          if (!Object.hasOwn(headers, name)) continue;
          const value = headers[name];
          if (typeof value !== 'string' && !Buffer.isBuffer(value)) return false;
        }
      }
  return true;
}

const plainBytes = (value: unknown): boolean =>
  value == null || typeof value === 'string' || Buffer.isBuffer(value);

/** The whole produce request body (v3 to v7 share it) in one buffer, wrapped as kafkajs's Encoder. */
export function encodeProduce(args: ProduceRequestArgs): KafkaEncoder {
  const transactionalId = args.transactionalId ?? null;
  const producerId = BigInt(String(args.producerId ?? -1));
  const producerEpoch = args.producerEpoch ?? 0;
  const attributes = transactionalId ? TRANSACTIONAL : 0;
  const now = BigInt(Date.now());

  // First pass: sizes. Each string's byte length is kept in `lengths`, in the order the second
  // pass writes them.
  const lengths: number[] = [];
  const stringSize = (value: string | Buffer): number => {
    const length = typeof value === 'string' ? utf8Length(value) : value.length;
    lengths.push(length);
    return length;
  };
  const bytesSize = (value: string | Buffer | null | undefined): number => {
    if (value == null) return 1; // varint −1
    const length = stringSize(value);
    return varIntSize(length) + length;
  };
  const recordSizes: number[] = [];
  let size = 2 + (transactionalId === null ? 0 : stringSize(transactionalId)) + 2 + 4 + 4;
  for (const { topic, partitions } of args.topicData) {
    size += 2 + stringSize(topic) + 4;
    for (const { messages } of partitions) {
      size += 4 + 4 + BATCH_HEAD + BODY_HEAD;
      messages.forEach((message, i) => {
        let body = 1 + 1 + varIntSize(i) + bytesSize(message.key) + bytesSize(message.value);
        const headers = (message.headers ?? {}) as Record<string, string | Buffer>;
        const names = Object.keys(headers);
        body += varIntSize(names.length);
        for (const name of names) {
          const nameLength = stringSize(name);
          body += varIntSize(nameLength) + nameLength + bytesSize(headers[name]);
        }
        recordSizes.push(body);
        size += varIntSize(body) + body;
      });
    }
  }

  // Second pass: the bytes.
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  let nextLength = 0;
  let nextRecord = 0;
  const writeRaw = (value: string | Buffer, length: number) => {
    if (typeof value !== 'string') value.copy(buf, at);
    else if (length === value.length && length <= SHORT_STRING) {
      // As many bytes as characters: ASCII, one byte each.
      for (let i = 0; i < length; i++) buf[at + i] = value.charCodeAt(i);
    } else buf.write(value, at, length, 'utf8');
    at += length;
  };
  const writeString16 = (value: string) => {
    const length = lengths[nextLength++];
    at = buf.writeInt16BE(length, at);
    writeRaw(value, length);
  };
  const writeVarInt = (value: number) => {
    let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
    while (zigzag > 0x7f) {
      buf[at++] = (zigzag & 0x7f) | 0x80;
      zigzag >>>= 7;
    }
    buf[at++] = zigzag;
  };
  const writeBytes = (value: string | Buffer | null | undefined) => {
    if (value == null) return writeVarInt(-1);
    const length = lengths[nextLength++];
    writeVarInt(length);
    writeRaw(value, length);
  };

  if (transactionalId === null) at = buf.writeInt16BE(-1, at);
  else writeString16(transactionalId);
  at = buf.writeInt16BE(args.acks, at);
  at = buf.writeInt32BE(args.timeout, at);
  at = buf.writeInt32BE(args.topicData.length, at);
  for (const { topic, partitions } of args.topicData) {
    writeString16(topic);
    at = buf.writeInt32BE(partitions.length, at);
    for (const { partition, firstSequence, messages } of partitions) {
      at = buf.writeInt32BE(partition, at);
      const sizeAt = at;
      at += 4; // the record set's size, known at its end
      at = buf.writeBigInt64BE(0n, at); // firstOffset
      const lengthAt = at;
      at += 4; // the batch's length, likewise
      at = buf.writeInt32BE(0, at); // partitionLeaderEpoch
      at = buf.writeInt8(MAGIC, at);
      const crcAt = at;
      at += 4;
      const bodyAt = at;
      at = buf.writeInt16BE(attributes, at);
      at = buf.writeInt32BE(messages.length - 1, at); // lastOffsetDelta
      at = buf.writeBigInt64BE(now, at); // firstTimestamp
      at = buf.writeBigInt64BE(now, at); // maxTimestamp
      at = buf.writeBigInt64BE(producerId, at);
      at = buf.writeInt16BE(producerEpoch, at);
      at = buf.writeInt32BE(firstSequence ?? 0, at);
      at = buf.writeInt32BE(messages.length, at);
      messages.forEach((message, i) => {
        writeVarInt(recordSizes[nextRecord++]);
        buf[at++] = 0; // attributes
        buf[at++] = 0; // timestampDelta: no message has a timestamp of its own
        writeVarInt(i); // offsetDelta
        writeBytes(message.key);
        writeBytes(message.value);
        const headers = (message.headers ?? {}) as Record<string, string | Buffer>;
        const names = Object.keys(headers);
        writeVarInt(names.length);
        for (const name of names) {
          writeBytes(name);
          writeBytes(headers[name]);
        }
      });
      buf.writeUInt32BE(crc32C(buf.subarray(bodyAt, at)), crcAt);
      buf.writeInt32BE(at - lengthAt - 4, lengthAt);
      buf.writeInt32BE(at - sizeAt - 4, sizeAt);
    }
  }
  if (at !== size) throw new Error(`produce request encoded ${at} bytes, expected ${size}`);
  const encoder = new KafkajsEncoder(1);
  encoder.buf = buf;
  encoder.offset = size;
  return encoder;
}

/**
 * Strings up to this length are measured and, when ASCII, written by a loop here rather than by
 * Buffer's native calls, whose fixed cost per call is most of the work for a header's name or
 * value (a feed message has twenty-four strings, most under forty characters).
 */
const SHORT_STRING = 64;

/** A string's length in UTF-8, as Buffer.byteLength gives it. */
function utf8Length(value: string): number {
  if (value.length > SHORT_STRING) return Buffer.byteLength(value);
  for (let i = 0; i < value.length; i++)
    if (value.charCodeAt(i) > 0x7f) return Buffer.byteLength(value);
  return value.length;
}

/** Bytes of a zigzag varint, as Kafka writes record lengths, offsets and sizes. */
function varIntSize(value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (zigzag > 0x7f) {
    bytes += 1;
    zigzag >>>= 7;
  }
  return bytes;
}

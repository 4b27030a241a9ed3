import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import pino from 'pino';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, kafkaSecurityOptions, parseBrokers, pinoLogCreator } from './kafka-client';

/** A pino logger whose JSON lines land in `lines`. */
function aCapturingLogger(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level }, destination), lines };
}

describe(pinoLogCreator.name, () => {
  it('forwards kafkajs entries to pino with their level, namespace and fields', () => {
    const { logger, lines } = aCapturingLogger();
    const sut = pinoLogCreator(logger)(logLevel.WARN);

    sut({
      namespace: 'Connection',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: {
        timestamp: '2026-03-01T00:00:00Z',
        logger: 'kafkajs',
        message: 'refused',
        broker: 'b:1',
      },
    });
    sut({
      namespace: 'Producer',
      level: logLevel.WARN,
      label: 'WARN',
      log: { timestamp: '2026-03-01T00:00:00Z', logger: 'kafkajs', message: 'slow' },
    });

    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'refused',
        component: 'kafkajs',
        namespace: 'Connection',
        broker: 'b:1',
      }),
      expect.objectContaining({ level: 40, msg: 'slow', namespace: 'Producer' }),
    ]);
    expect(lines[0]).not.toHaveProperty('logger');
  });

  it('drops everything when no logger is given', () => {
    const sut = pinoLogCreator(undefined)(logLevel.WARN);

    expect(() =>
      sut({
        namespace: 'x',
        level: logLevel.ERROR,
        label: 'ERROR',
        log: { timestamp: '', message: 'm' },
      }),
    ).not.toThrow();
  });
});

describe(createKafka.name, () => {
  it('refuses an empty broker list', () => {
    expect(() => createKafka({ brokers: [], clientId: 'spec' })).toThrow('at least one broker');
  });

  it('logs only warnings and errors of kafkajs', () => {
    const { logger, lines } = aCapturingLogger();
    const sut = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'spec', logger });

    sut.logger().info('rebalancing');
    sut.logger().warn('slow broker');

    expect(lines.map((line) => line.msg)).toEqual(['slow broker']);
  });
});

describe(parseBrokers.name, () => {
  it('splits KAFKA_BROKERS on commas and trims the blanks', () => {
    expect(parseBrokers(' 127.0.0.1:9092, 127.0.0.1:9094 ,,')).toEqual([
      '127.0.0.1:9092',
      '127.0.0.1:9094',
    ]);
  });
});

describe(kafkaSecurityOptions.name, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'truceline-kafka-tls-'));
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, name), name);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is nothing without settings: plaintext, unauthenticated', () => {
    expect(kafkaSecurityOptions(undefined)).toEqual({});
  });

  it('passes SASL through and reads the TLS files, verifying the brokers', () => {
    const sut = kafkaSecurityOptions({
      sasl: { mechanism: 'plain', username: 'gb', password: 'pw' },
      ssl: {
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, 'cert.pem'),
        keyFile: join(dir, 'key.pem'),
      },
    });

    expect(sut).toEqual({
      sasl: { mechanism: 'plain', username: 'gb', password: 'pw' },
      ssl: {
        rejectUnauthorized: true,
        ca: [Buffer.from('ca.pem')],
        cert: Buffer.from('cert.pem'),
        key: Buffer.from('key.pem'),
      },
    });
  });

  it('turns TLS on with the CA alone', () => {
    expect(kafkaSecurityOptions({ ssl: { caFile: join(dir, 'ca.pem') } })).toEqual({
      ssl: { rejectUnauthorized: true, ca: [Buffer.from('ca.pem')] },
    });
  });
});

import { logLevel } from 'kafkajs';
import pino from 'pino';
import { Writable } from 'node:stream';
import { isTransientBrokerState, pinoLogCreator } from './kafka-client';

/** The pino lines a kafkajs log entry becomes. */
function logged(
  level: logLevel,
  log: { message: string; error: string },
): { level: number; msg: string }[] {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  const sut = pinoLogCreator(pino({ level: 'info' }, sink))(logLevel.INFO);
  sut({
    namespace: 'Connection',
    level,
    label: 'ERROR',
    log: { timestamp: 'now', logger: 'kafkajs', ...log },
  });
  return lines;
}

describe(pinoLogCreator.name, () => {
  it('logs a broker that cannot serve groups yet as a transient state, not as an error', () => {
    const lines = logged(logLevel.ERROR, {
      message: 'Response GroupCoordinator(key: 10, version: 2)',
      error: 'The group coordinator is not available',
    });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        transient: true,
        msg: 'transient broker state, retrying: The group coordinator is not available',
      }),
    ]);
  });

  it('keeps real errors as errors', () => {
    const lines = logged(logLevel.ERROR, {
      message: 'Response SaslAuthenticate',
      error: 'Authentication failed',
    });
    expect(lines).toEqual([expect.objectContaining({ level: 50 })]);
  });

  it.each([
    'The group coordinator is not available',
    "The coordinator is loading and hence can't process requests",
    'There is no leader for this topic-partition as we are in the middle of a leadership election',
  ])('knows %s as transient', (error) => {
    expect(isTransientBrokerState(error)).toBe(true);
  });
});

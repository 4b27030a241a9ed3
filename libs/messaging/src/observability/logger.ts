import pino, { DestinationStream, Logger } from 'pino';

export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  /** The process's capability: api, relay, verification, notification, coalition-tasking… */
  service: string;
  /** Which instance of it: TRUCELINE_SERVICE_INSTANCE, else the process id. */
  instance?: string;
  level?: 'error' | 'warn' | 'info' | 'debug';
  /** Where the JSON lines go; stdout by default (tests pass a stream to read them back). */
  destination?: DestinationStream;
}

/**
 * The structured JSON logger of every process: one line per entry with `service` and
 * `instance`, ISO time and the level as a word, so the lines of all processes can be merged
 * and searched by `correlationId`, `eventId` or `traceparent`.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const settings = {
    level: options.level ?? 'info',
    base: { service: options.service, instance: options.instance ?? String(process.pid) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/**
 * What `npm start` runs. KAFKA_BROKERS promises (SPEC §8) that events are relayed to Kafka and
 * that the services consume from it — work done by the relay, the deadline scheduler and the
 * services, each its own process. So with KAFKA_BROKERS set, `npm start` starts all of them
 * (the distributed launcher), not the API alone, which would relay nothing and react to nothing.
 * Those processes share the store through PostgreSQL: without DATABASE_URL there is nothing
 * they could share (the embedded store serves one process), and `npm start` refuses, saying
 * what to run instead.
 */
export type StartPlan =
  { kind: 'embedded' } | { kind: 'distributed' } | { kind: 'refuse'; message: string };

const set = (value: string | undefined): boolean => (value ?? '').trim() !== '';

export function planStart(env: Record<string, string | undefined>): StartPlan {
  if (!set(env.KAFKA_BROKERS)) return { kind: 'embedded' };
  if (set(env.DATABASE_URL)) return { kind: 'distributed' };
  return {
    kind: 'refuse',
    message: [
      'KAFKA_BROKERS is set, so Truceline runs distributed: the API, the relay (log → Kafka), the',
      'deadline scheduler and the verification, notification and coalition-tasking services, each',
      'its own process, sharing one PostgreSQL store. DATABASE_URL is not set, and the embedded',
      'store serves a single process, so nothing would be relayed and no service would run.',
      'Run one of:',
      '  DATABASE_URL=postgres://… npm start   every process, against your PostgreSQL and brokers',
      '  npm run start:distributed              every process, with a throwaway PostgreSQL',
      '  npm start without KAFKA_BROKERS        everything in one process on the embedded store',
    ].join('\n'),
  };
}

import { readFile } from 'node:fs/promises';
import { checkKafka, startLocalKafka } from '../../infra/kafka/local-kafka';
import { parseBrokers } from '@truceline/messaging';

/** The broker the Kafka figures run against, and how to stop it when the bench started it. */
export interface BenchKafka {
  brokers: string[];
  description: string;
  /** The broker JVM when it runs on this machine (its CPU is read from /proc), else null. */
  pid: number | null;
  stop(): Promise<void>;
}

/**
 * The broker of KAFKA_BROKERS when set (it must answer), else a single-node Apache Kafka started
 * from infra/kafka as the tests do (jars fetched by Maven on first use), so `npm run bench` on a
 * fresh clone brings its own (its log kept in BENCH_KAFKA_LOG_DIR when set).
 */
export async function provideBenchKafka(): Promise<BenchKafka> {
  const given = process.env.KAFKA_BROKERS;
  if (given) {
    const brokers = parseBrokers(given);
    await checkKafka(brokers);
    // BENCH_KAFKA_PID names the broker's JVM when it runs here, for its CPU per event.
    const pid = Number(process.env.BENCH_KAFKA_PID);
    return {
      brokers,
      description: `the Kafka of KAFKA_BROKERS (${brokers.join(',')})`,
      pid: Number.isInteger(pid) && pid > 0 ? pid : null,
      stop: async () => undefined,
    };
  }
  // BENCH_KAFKA_LOG_DIR keeps the broker's log there after the run (else it goes with the run's
  // storage), to be read against the seconds a figure stalled.
  const kafka = await startLocalKafka({
    log: (line) => console.log(line),
    logDir: process.env.BENCH_KAFKA_LOG_DIR || undefined,
  });
  process.on('exit', () => kafka.stopSync());
  return {
    brokers: kafka.brokers,
    description: `Apache Kafka ${kafka.version} (KRaft, single node, started by the bench)`,
    pid: kafka.pid,
    stop: () => kafka.stop(),
  };
}

/** CPU time (µs) a process has used so far (user + system), from /proc; null when unknown. */
export async function processCpu(pid: number | null): Promise<number | null> {
  if (pid === null) return null;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  // After the command's closing parenthesis: state, ppid, …, utime and stime (fields 14, 15),
  // in clock ticks of 10 ms.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

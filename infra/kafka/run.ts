/**
 * `npm run kafka`: a local Apache Kafka for development on 127.0.0.1:9092 (controller on 9093),
 * fresh and empty at every start, stopped and removed on Ctrl-C.
 * Options: --port=<client port> (the controller takes the next one).
 */
import { startLocalKafka } from './local-kafka';

async function main(): Promise<void> {
  const portArg = process.argv.find((arg) => arg.startsWith('--port='));
  const port = portArg ? Number(portArg.slice('--port='.length)) : 9092;
  if (!Number.isInteger(port) || port <= 0 || port >= 65535) {
    throw new Error(`bad --port: ${portArg}`);
  }
  const started = Date.now();
  const kafka = await startLocalKafka({
    port,
    controllerPort: port + 1,
    log: (line) => console.log(line),
  });
  console.log(
    `[kafka] Apache Kafka ${kafka.version} (KRaft, single node) ready in ${Date.now() - started} ms\n` +
      `[kafka] brokers: ${kafka.brokers.join(',')}   (export KAFKA_BROKERS=${kafka.brokers.join(',')})\n` +
      `[kafka] log: ${kafka.logFile}\n` +
      '[kafka] Ctrl-C stops the broker and deletes its data',
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[kafka] ${signal}: stopping…`);
    kafka.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(`[kafka] ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

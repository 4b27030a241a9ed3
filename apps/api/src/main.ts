// First: the young generation is capped before the modules below fill the heap.
import { limitHeap } from './heap-limits';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig, signToken, TrucelineConfig } from '@truceline/config';
import { compileEmbeddedWasmOptimized, inBackground } from '@truceline/event-store';
import { createLogger } from '@truceline/messaging';
import { createRuntime } from '@truceline/workflows';
import { createApp } from './app';

const DEV_TOKEN_TTL_SECONDS = 24 * 3600;
const SHUTDOWN_TIMEOUT_MS = 15_000;

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  limitHeap(config.databaseUrl ? 'postgres' : 'embedded');
  // A server runs for long: PGlite's code optimized once, without a baseline tier or tier-up.
  if (!config.databaseUrl) compileEmbeddedWasmOptimized();
  // What the runtime starts (projections, services, the sealer, timers) is background work: on
  // the embedded store, requests get the one connection first when both wait for it.
  // (PostgreSQL's pool serves both at once: there, marking it would only cost every promise an
  // async-context hook.)
  const runtime = config.databaseUrl
    ? await createRuntime(config)
    : await inBackground(() => createRuntime(config));
  const app = await createApp(runtime, config, {
    accessLog: createLogger({
      service: 'api',
      instance: config.serviceInstance,
      level: config.logLevel,
    }).child({ log: 'access' }),
  });
  await app.listen(config.port, '0.0.0.0');

  // Close the HTTP side first (no new commands), then the store and services behind it.
  let closing = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    Logger.log(`${signal}: shutting down`, 'Truceline');
    setTimeout(() => {
      Logger.error(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS} ms`, undefined, 'Truceline');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    try {
      await app.close();
      await runtime.close();
      process.exit(0);
    } catch (error) {
      Logger.error('shutdown failed', (error as Error).stack, 'Truceline');
      process.exit(1);
    }
  };
  process.once('SIGTERM', (signal) => void shutdown(signal));
  process.once('SIGINT', (signal) => void shutdown(signal));

  printBanner(config);
}

function printBanner(config: TrucelineConfig): void {
  const lines = [
    `Truceline API listening on port ${config.port} (clock: ${config.clock})`,
    `API docs: http://127.0.0.1:${config.port}/docs`,
  ];
  if (config.kafkaBrokers?.length)
    lines.push(
      'Distributed mode: this process serves the API and its projections; the relay, the deadline',
      'scheduler and the services run as processes of their own (`npm start` with KAFKA_BROKERS',
      'and DATABASE_URL, or `npm run start:distributed`, starts them all).',
    );
  if (config.jwks) {
    lines.push(`Bearer tokens: RS256/ES256 of ${config.jwks.issuer} (keys: ${config.jwks.url})`);
  } else if (config.jwtSecretGenerated) {
    const token = signToken(
      config.jwtSecret,
      { sub: 'dev-operator', role: 'operator' },
      DEV_TOKEN_TTL_SECONDS,
    );
    lines.push(
      '',
      'Development JWT secret in use (set TRUCELINE_JWT_SECRET in production).',
      'Operator token, valid 24 h:',
      `  ${token}`,
      'Other tokens: npm run cli -- token --role verifier --partner US',
    );
  }
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(1);
});

import { INestApplication, LogLevel as NestLogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { LogLevel, TrucelineConfig } from '@truceline/config';
import type { Runtime } from '@truceline/workflows';
import { ApiOptions, AppModule } from './app.module';
import { setupOpenApi } from './http/api-docs';
import { bodyShapeGuard, mediaTypeGuard, methodGuard, RouteLayer } from './http/request-guards';
import { accessLog, correlationIds } from './ops/access-log';
import { HttpMetrics } from './ops/http-metrics';
import { JsonNestLogger } from './ops/json-logger';
import { createLogger } from '@truceline/messaging';

/** Commands are small JSON documents: a summary is at most 2,000 characters. */
export const BODY_LIMIT = '64kb';

const NEST_LOG_LEVELS: Record<LogLevel, NestLogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/**
 * The HTTP API, configured the same way for main.ts and for tests. The caller owns the runtime:
 * closing the app does not close it.
 */
export async function createApp(
  runtime: Runtime,
  config: TrucelineConfig,
  options: ApiOptions = {},
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.register(runtime, config, options),
    {
      // Distributed mode: JSON lines like every other process; embedded: Nest's readable lines.
      logger: config.kafkaBrokers?.length
        ? new JsonNestLogger(
            createLogger({
              service: 'api',
              instance: config.serviceInstance,
              level: config.logLevel,
            }),
          )
        : NEST_LOG_LEVELS[config.logLevel],
      bodyParser: false,
    },
  );
  app.disable('x-powered-by');
  // Express would add a weak ETag of its own to every GET; ours carry the incident's revision.
  app.set('etag', false);
  app.use(correlationIds);
  if (options.accessLog) app.use(accessLog(options.accessLog));
  app.use(app.get(HttpMetrics).middleware);
  // Express's own types leave out Layer.match, which the method guard needs.
  const instance: unknown = app.getHttpAdapter().getInstance();
  const express = instance as { router: { stack: RouteLayer[] } };
  app.use(methodGuard(() => express.router.stack));
  // JSON only (else 415), with a limit: too large → 413, malformed or too deep → 400, as
  // problem+json. The shape is checked before any recursive code sees the body.
  app.use(mediaTypeGuard);
  app.useBodyParser('json', {
    limit: BODY_LIMIT,
    type: ['application/json', 'application/*+json'],
  });
  app.use(bodyShapeGuard);
  setupOpenApi(app);
  await app.init();
  return app;
}

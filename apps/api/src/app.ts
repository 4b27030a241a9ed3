import { INestApplication, LogLevel as NestLogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { LogLevel, TrucelineConfig } from '@truceline/config';
import type { Runtime } from '@truceline/workflows';
import { ApiOptions, AppModule } from './app.module';
import { setupOpenApi } from './http/api-docs';
import { answerFrameworkError } from './http/problem-details.filter';
import {
  answerClientError,
  bodyShapeGuard,
  installMethodGuard,
  mediaTypeGuard,
  parseJsonBody,
  RouterRules,
} from './http/request-guards';
import { accessLog, correlationIdOfRaw, correlationIds } from './ops/access-log';
import { HttpMetrics } from './ops/http-metrics';
import { JsonNestLogger } from './ops/json-logger';
import { createLogger } from '@truceline/messaging';

/** Commands are small JSON documents: a summary is at most 2,000 characters. 64 kB, in bytes. */
export const BODY_LIMIT = 64 * 1024;

/**
 * Paths match as they did on Express: case-insensitive, a trailing slash ignored, and a path
 * parameter of any length the URL allows (so an over-long id is a 400 of its pattern, not a 414).
 */
const ROUTER_RULES: RouterRules = {
  caseSensitive: false,
  ignoreTrailingSlash: true,
  maxParamLength: 16 * 1024,
};

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
  const logAccess = options.accessLog && accessLog(options.accessLog);
  // Fastify answers a URL it cannot route (not decodable, a parameter over its length) before
  // any hook runs: its access-log line and its metrics are started here, as the hooks do for
  // the rest. The metrics exist once the app does, which is before any request.
  const late: { metrics?: HttpMetrics } = {};
  const answerUnroutable: typeof answerFrameworkError = (error, request, reply) => {
    if (logAccess) logAccess(request, reply, () => undefined);
    late.metrics?.startedOutsideHooks(request, reply);
    answerFrameworkError(error, request, reply);
  };
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT,
    routerOptions: ROUTER_RULES,
    // The request's id is its correlation id (X-Correlation-Id, or a new UUID).
    genReqId: correlationIdOfRaw,
    frameworkErrors: answerUnroutable,
    clientErrorHandler: answerClientError,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.register(runtime, config, options),
    adapter,
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
  // Hooks, not middleware: they run in this order for every request, 404s and errors included.
  const fastify = adapter.getInstance();
  const metrics = app.get(HttpMetrics);
  late.metrics = metrics;
  fastify.addHook('onRequest', metrics.started);
  fastify.addHook('onResponse', metrics.answered);
  fastify.addHook('onRequest', correlationIds);
  if (logAccess) fastify.addHook('onRequest', logAccess);
  installMethodGuard(fastify, ROUTER_RULES);
  // JSON only (else 415), with a limit: too large → 413, malformed or too deep → 400, as
  // problem+json. The shape is checked before any recursive code sees the body.
  fastify.addHook('onRequest', mediaTypeGuard);
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, parseJsonBody);
  fastify.addHook('preValidation', bodyShapeGuard);
  setupOpenApi(app);
  await app.init();
  return app;
}

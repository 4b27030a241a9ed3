import { Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** When the request came in (performance.now()), on its request. */
const STARTED = Symbol('metricsStarted');
type Timed = FastifyRequest & { [STARTED]?: number };

interface Series {
  requests: { inc(): void };
  duration: { observe(seconds: number): void };
}

/**
 * Prometheus metrics of one API instance: Node's defaults plus requests by method, route and
 * status. Its own registry (not prom-client's global one), so several apps in one process,
 * as in tests, do not collide. Routes are labelled by their template, never by the raw URL,
 * which would make a series per incident.
 */
@Injectable()
export class HttpMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The series of each method, route and status seen, so a request does not hash its labels. */
  private readonly series = new Map<string, Series>();

  /** `onRequest` hook, added first so 401s, 404s and body-parser errors are counted too. */
  readonly started = (
    request: FastifyRequest,
    _reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void => {
    (request as Timed)[STARTED] = performance.now();
    done();
  };

  /** `onResponse` hook: the response has been sent. */
  readonly answered = (
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void => {
    this.record(request as Timed, reply.statusCode);
    done();
  };

  /**
   * For a request Fastify answers before any hook runs (a URL it cannot route): started now,
   * recorded when its response is done, since no `onResponse` hook will run for it.
   */
  startedOutsideHooks(request: FastifyRequest, reply: FastifyReply): void {
    (request as Timed)[STARTED] = performance.now();
    reply.raw.once('close', () => this.record(request as Timed, reply.raw.statusCode));
  }

  private record(request: Timed, statusCode: number): void {
    // The route's template as registered (`/v1/incidents/:id`); none for a 404.
    const template = request.is404 ? undefined : request.routeOptions?.url;
    const route = template ?? 'unmatched';
    const status = String(statusCode);
    const key = `${request.method} ${status} ${route}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = { method: request.method, route, status };
      series = { requests: this.requests.labels(labels), duration: this.duration.labels(labels) };
      this.series.set(key, series);
    }
    series.requests.inc();
    series.duration.observe((performance.now() - (request[STARTED] ?? 0)) / 1000);
  }
}

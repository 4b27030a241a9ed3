import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** When the request came in (performance.now()), on its response. */
const STARTED = Symbol('metricsStarted');
type Timed = Response & { [STARTED]?: number };

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

  /** One listener for every response (its `this`), not a closure and a timer per request. */
  private readonly answered: (this: Timed) => void;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const record = (response: Timed) => this.record(response);
    this.answered = function (this: Timed) {
      record(this);
    };
  }

  /** The series of each method, route and status seen, so a request does not hash its labels. */
  private readonly series = new Map<string, Series>();

  /** Express middleware, mounted first so 401s, 404s and body-parser errors are counted too. */
  readonly middleware = (_request: Request, response: Response, next: NextFunction): void => {
    (response as Timed)[STARTED] = performance.now();
    response.on('finish', this.answered);
    next();
  };

  private record(response: Timed): void {
    const request = response.req;
    const path = (request.route as { path?: unknown } | undefined)?.path;
    const route = typeof path === 'string' ? `${request.baseUrl}${path}` : 'unmatched';
    const status = String(response.statusCode);
    const key = `${request.method} ${status} ${route}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = { method: request.method, route, status };
      series = { requests: this.requests.labels(labels), duration: this.duration.labels(labels) };
      this.series.set(key, series);
    }
    series.requests.inc();
    series.duration.observe((performance.now() - (response[STARTED] ?? 0)) / 1000);
  }
}

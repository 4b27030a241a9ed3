import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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

  /** Express middleware, mounted first so 401s, 404s and body-parser errors are counted too. */
  readonly middleware = (request: Request, response: Response, next: NextFunction): void => {
    const stop = this.duration.startTimer();
    response.once('finish', () => {
      const path = (request.route as { path?: unknown } | undefined)?.path;
      const labels = {
        method: request.method,
        route: typeof path === 'string' ? `${request.baseUrl}${path}` : 'unmatched',
        status: String(response.statusCode),
      };
      this.requests.inc(labels);
      stop(labels);
    });
    next();
  };
}

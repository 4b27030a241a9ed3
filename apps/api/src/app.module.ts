import { DynamicModule, Module, Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import type { TrucelineConfig } from '@truceline/config';
import type { Logger } from '@truceline/messaging';
import type { Runtime } from '@truceline/workflows';
import { AuthGuard, TOKEN_VERIFIER } from './auth/auth.guard';
import { JwksTiming, tokenVerifierFor } from './auth/token-verifier';
import { FEED_STREAM_TIMING, FeedsHttpController } from './feeds/feeds.http.controller';
import { HEARTBEAT_MS, POLL_MS } from './feeds/feed-stream';
import { ExerciseClockHttpController } from './exercise/exercise-clock.http.controller';
import { ProblemDetailsFilter } from './http/problem-details.filter';
import { createValidationPipe } from './http/validation';
import { CoalitionTasksHttpController } from './incidents/coalition-tasks.http.controller';
import { DecisionsHttpController } from './incidents/decisions.http.controller';
import { EscalationHttpController } from './incidents/escalation.http.controller';
import { IncidentAuditHttpController } from './incidents/incident-audit.http.controller';
import { IncidentProofHttpController } from './incidents/incident-proof.http.controller';
import { IncidentQueriesHttpController } from './incidents/incident-queries.http.controller';
import { LogHttpController } from './log/log.http.controller';
import { MeasuresHttpController } from './incidents/measures.http.controller';
import { ReportBreachHttpController } from './incidents/report-breach.http.controller';
import { ResolutionHttpController } from './incidents/resolution.http.controller';
import { VerificationHttpController } from './incidents/verification.http.controller';
import { HealthHttpController } from './ops/health.http.controller';
import { PoliciesHttpController } from './policies/policies.http.controller';
import { HttpMetrics } from './ops/http-metrics';
import { MetricsHttpController } from './ops/metrics.http.controller';
import { CONFIG, RUNTIME } from './runtime.tokens';

/** What a deployment does not configure but a test may tune. */
export interface ApiOptions {
  /** How the identity provider's key set is cached and refreshed (TRUCELINE_JWKS_URL). */
  jwksTiming?: JwksTiming;
  /** Where the JSON access log goes (one line per request); none when absent, as in tests. */
  accessLog?: Logger;
}

@Module({})
export class AppModule {
  /** The API over a runtime built elsewhere (main.ts, or a test's own implementation). */
  static register(
    runtime: Runtime,
    config: TrucelineConfig,
    options: ApiOptions = {},
  ): DynamicModule {
    const controllers: Type[] = [
      ReportBreachHttpController,
      VerificationHttpController,
      MeasuresHttpController,
      EscalationHttpController,
      DecisionsHttpController,
      CoalitionTasksHttpController,
      ResolutionHttpController,
      IncidentQueriesHttpController,
      IncidentProofHttpController,
      LogHttpController,
      IncidentAuditHttpController,
      FeedsHttpController,
      PoliciesHttpController,
      HealthHttpController,
      MetricsHttpController,
      // Without the exercise clock the route must not exist at all (SPEC §2: 404).
      ...(config.clock === 'exercise' ? [ExerciseClockHttpController] : []),
    ];
    return {
      module: AppModule,
      controllers,
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: CONFIG, useValue: config },
        { provide: FEED_STREAM_TIMING, useValue: { heartbeatMs: HEARTBEAT_MS, pollMs: POLL_MS } },
        HttpMetrics,
        // One verifier for the app's life: the identity provider's keys are cached in it.
        { provide: TOKEN_VERIFIER, useValue: tokenVerifierFor(config, options.jwksTiming) },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
      ],
    };
  }
}

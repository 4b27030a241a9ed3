import { Controller, Get, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { DependencyHealth, Runtime } from '@truceline/workflows';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/roles.decorator';
import { InjectRuntime } from '../runtime.tokens';

const statusSchema = (status: string) => ({
  type: 'object' as const,
  required: ['status'],
  properties: { status: { type: 'string' as const, enum: [status] } },
});

const dependencies = {
  type: 'object' as const,
  additionalProperties: {
    type: 'object' as const,
    required: ['status'],
    properties: {
      status: { type: 'string' as const, enum: ['up', 'down'] },
      message: { type: 'string' as const },
    },
  },
};

/** The body of @nestjs/terminus's health checks, which orchestrators and dashboards read. */
const readinessSchema = (status: 'ok' | 'error') => ({
  type: 'object' as const,
  required: ['status', 'info', 'error', 'details'],
  properties: {
    status: { type: 'string' as const, enum: [status] },
    info: dependencies,
    error: dependencies,
    details: dependencies,
  },
});

export interface Readiness {
  status: 'ok' | 'error';
  /** The dependencies that are up. */
  info: DependencyHealth;
  /** The dependencies that are down, each with why. */
  error: DependencyHealth;
  details: DependencyHealth;
}

export function readinessOf(details: DependencyHealth): Readiness {
  const entries = Object.entries(details);
  const info = Object.fromEntries(entries.filter(([, d]) => d.status === 'up'));
  const error = Object.fromEntries(entries.filter(([, d]) => d.status === 'down'));
  return { status: Object.keys(error).length === 0 ? 'ok' : 'error', info, error, details };
}

@ApiTags('ops')
@Public()
@Controller('health')
export class HealthHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get('live')
  @ApiOperation({ summary: 'The process answers' })
  @ApiOkResponse({ schema: statusSchema('live') })
  live(): { status: 'live' } {
    return { status: 'live' };
  }

  @Get('ready')
  @ApiOperation({
    summary: 'Every dependency answers: the database, and projections caught up once',
    description: 'The body names each dependency and, when one is down, why (Terminus shape).',
  })
  @ApiOkResponse({ schema: readinessSchema('ok') })
  @ApiServiceUnavailableResponse({ schema: readinessSchema('error') })
  async ready(@Res({ passthrough: true }) response: FastifyReply): Promise<Readiness> {
    const readiness = readinessOf(
      await this.runtime.health().catch((error: unknown) => ({
        runtime: {
          status: 'down' as const,
          message: error instanceof Error ? error.message : String(error),
        },
      })),
    );
    if (readiness.status === 'error') void response.code(503);
    return readiness;
  }
}

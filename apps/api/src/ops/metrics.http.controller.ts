import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/roles.decorator';
import { HttpMetrics } from './http-metrics';

@ApiTags('ops')
@Public()
@Controller('metrics')
export class MetricsHttpController {
  constructor(private readonly metrics: HttpMetrics) {}

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics' })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text exposition format',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  async scrape(@Res({ passthrough: true }) response: FastifyReply): Promise<string> {
    void response.type(this.metrics.registry.contentType);
    return this.metrics.registry.metrics();
  }
}

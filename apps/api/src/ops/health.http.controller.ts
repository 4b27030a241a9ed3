import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Runtime } from '@truceline/workflows';
import { Public } from '../auth/roles.decorator';
import { ApiProblems } from '../http/api-docs';
import { InjectRuntime } from '../runtime.tokens';

const statusSchema = (status: string) => ({
  type: 'object' as const,
  required: ['status'],
  properties: { status: { type: 'string' as const, enum: [status] } },
});

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
  @ApiOperation({ summary: 'The store answers and projections have caught up once' })
  @ApiOkResponse({ schema: statusSchema('ready') })
  @ApiProblems(503)
  async ready(): Promise<{ status: 'ready' }> {
    const ready = await this.runtime.isReady().catch(() => false);
    if (!ready) throw new ServiceUnavailableException('not ready');
    return { status: 'ready' };
  }
}

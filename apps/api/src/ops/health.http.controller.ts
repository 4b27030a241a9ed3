import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Runtime } from '@truceline/workflows';
import { Public } from '../auth/roles.decorator';
import { ApiProblems } from '../http/api-docs';
import { InjectRuntime } from '../runtime.tokens';

@ApiTags('ops')
@Public()
@Controller('health')
export class HealthHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get('live')
  @ApiOperation({ summary: 'The process answers' })
  live(): { status: 'live' } {
    return { status: 'live' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'The store answers and projections have caught up once' })
  @ApiProblems(503)
  async ready(): Promise<{ status: 'ready' }> {
    const ready = await this.runtime.isReady().catch(() => false);
    if (!ready) throw new ServiceUnavailableException('not ready');
    return { status: 'ready' };
  }
}

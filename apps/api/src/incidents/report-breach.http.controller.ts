import { Body, Controller, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt } from './command-body';
import { ReportBreachDto } from './report-breach.dto';

@ApiTags('incidents')
@ApiBearerAuth()
@UseInterceptors(RevisionETagInterceptor)
@Controller('v1/incidents')
export class ReportBreachHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Post()
  @Roles('operator', 'verifier', 'service')
  @CommandEndpoint('Report an alleged breach: opens an incident at tier 0', { opensIncident: true })
  report(
    @Body() body: ReportBreachDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      null,
      { type: 'ReportBreach', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }
}

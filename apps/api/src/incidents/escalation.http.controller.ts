import { Body, Controller, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt } from './command-body';
import { AssessEscalationDto, ReportHostilitiesDto } from './escalation.dto';

@ApiTags('escalation')
@ApiBearerAuth()
@ApiIncidentId()
@UseInterceptors(RevisionETagInterceptor)
@Controller('v1/incidents/:id')
export class EscalationHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Post('hostilities')
  @Roles('operator', 'verifier')
  @CommandEndpoint('Hostilities persist after tier 1: tier 2, the coalition is tasked')
  reportHostilities(
    @IncidentIdParam() id: string,
    @Body() body: ReportHostilitiesDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'ReportHostilities', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }

  @Post('assessments')
  @Roles('operator')
  @CommandEndpoint('Assess the escalation; large-scale means tier 3')
  assessEscalation(
    @IncidentIdParam() id: string,
    @Body() body: AssessEscalationDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'AssessEscalation', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }
}

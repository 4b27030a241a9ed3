import { Body, Controller, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { SCALES } from '@truceline/domain';
import type { EscalationAssessed, HostilitiesPersisted, Scale } from '@truceline/domain';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { OneOf, Text } from '../http/dto-fields';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt, CommandBody } from './command-body';

export class ReportHostilitiesDto extends CommandBody implements HostilitiesPersisted {
  @Text(2000, { example: 'shelling continued after the warning' })
  observation!: string;
}

export class AssessEscalationDto extends CommandBody implements EscalationAssessed {
  @OneOf(SCALES, { description: 'large-scale moves the incident to tier 3' })
  scale!: Scale;

  @Text(200, { example: 'JFC Brunssum' })
  assessor!: string;
}

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

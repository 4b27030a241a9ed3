import { Body, Controller, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { DECISIONS } from '@truceline/domain';
import type { Decision, DecisionRecorded } from '@truceline/domain';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { OneOf, PartnerList, Text, TextList } from '../http/dto-fields';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt, CommandBody } from './command-body';

export class RecordDecisionDto extends CommandBody implements DecisionRecorded {
  @Text(200, { description: 'Who authorized it', example: 'UA National Security Council' })
  authority!: string;

  @OneOf(DECISIONS)
  decision!: Decision;

  @Text(4000)
  rationale!: string;

  @TextList({ maxItems: 20, maxLength: 500 }, { required: false })
  optionsConsidered?: string[];

  @PartnerList({
    required: false,
    description: 'Partners the decision is released to; all partners when absent',
  })
  releasableTo?: string[];
}

@ApiTags('decisions')
@ApiBearerAuth()
@ApiIncidentId()
@UseInterceptors(RevisionETagInterceptor)
@Controller('v1/incidents/:id')
export class DecisionsHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  /** The plan acts on no tier automatically: each action rests on a recorded decision. */
  @Post('decisions')
  @Roles('operator')
  @CommandEndpoint(
    'Record a decision of an authorized party (authorize-warning: only on a confirmed breach, else 409)',
  )
  recordDecision(
    @IncidentIdParam() id: string,
    @Body() body: RecordDecisionDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'RecordDecision', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }
}

import { Body, Controller, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { FINDINGS } from '@truceline/domain';
import type { Finding, VerificationFindingSubmitted } from '@truceline/domain';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { OneOf, Partner, Text, TextList } from '../http/dto-fields';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt, CommandBody } from './command-body';

export class SubmitFindingDto extends CommandBody implements VerificationFindingSubmitted {
  @Partner({ description: "The verifier's partner code: must be the token's partner" })
  verifier!: string;

  @OneOf(FINDINGS)
  finding!: Finding;

  @TextList(
    { maxItems: 50, maxLength: 500 },
    { description: 'References to the evidence (may be empty)', example: ['sat-img-2291'] },
  )
  evidence!: string[];

  @Text(2000, { required: false })
  note?: string;
}

export const VERDICTS = ['confirmed', 'rejected'] as const;

export class OverrideVerdictDto extends CommandBody {
  @OneOf(VERDICTS)
  verdict!: (typeof VERDICTS)[number];

  @Text(2000)
  reason!: string;
}

@ApiTags('verification')
@ApiBearerAuth()
@ApiIncidentId()
@UseInterceptors(RevisionETagInterceptor)
@Controller('v1/incidents/:id')
export class VerificationHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Post('findings')
  @Roles('verifier')
  @CommandEndpoint("Submit a verifier's finding (assigned verifiers only, once each)")
  submitFinding(
    @IncidentIdParam() id: string,
    @Body() body: SubmitFindingDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'SubmitFinding', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }

  @Post('verdict')
  @Roles('operator')
  @CommandEndpoint('Override verification: confirm or reject before the quorum does')
  overrideVerdict(
    @IncidentIdParam() id: string,
    @Body() body: OverrideVerdictDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'OverrideVerdict', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }
}

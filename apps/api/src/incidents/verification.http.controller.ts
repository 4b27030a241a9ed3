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
import { OverrideVerdictDto, SubmitFindingDto } from './verification.dto';

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

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
import {
  ActivateWesternResponseDto,
  RecordWarningDto,
  ReportResponseActionDto,
} from './measures.dto';

/** The measures the plan obliges once a breach is confirmed (tier 1) and at tier 3. */
@ApiTags('measures')
@ApiBearerAuth()
@ApiIncidentId()
@UseInterceptors(RevisionETagInterceptor)
@Controller('v1/incidents/:id')
export class MeasuresHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Post('warnings')
  @Roles('operator', 'service')
  @CommandEndpoint('Record a formal diplomatic warning issued (due 24 h after confirmation)')
  recordWarning(
    @IncidentIdParam() id: string,
    @Body() body: RecordWarningDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'RecordWarning', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }

  @Post('response-actions')
  @Roles('operator')
  @CommandEndpoint("Record Ukrainian forces' action to halt the localized violation")
  reportResponseAction(
    @IncidentIdParam() id: string,
    @Body() body: ReportResponseActionDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'ReportResponseAction', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }

  @Post('western-response')
  @Roles('operator', 'service')
  @CommandEndpoint(
    'Activate the Western-backed response with US support (tier 3; 409 without a recorded authorize-western-response decision)',
  )
  activateWesternResponse(
    @IncidentIdParam() id: string,
    @Body() body: ActivateWesternResponseDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'ActivateWesternResponse', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }
}

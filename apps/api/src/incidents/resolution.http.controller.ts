import { Body, Controller, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RESOLUTIONS } from '@truceline/domain';
import type { IncidentResolved, Resolution } from '@truceline/domain';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { OneOf, Text } from '../http/dto-fields';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt, CommandBody } from './command-body';

export class ResolveIncidentDto extends CommandBody implements IncidentResolved {
  @OneOf(RESOLUTIONS)
  resolution!: Resolution;

  @Text(2000, { required: false })
  note?: string;
}

@ApiTags('incidents')
@ApiBearerAuth()
@ApiIncidentId()
@UseInterceptors(RevisionETagInterceptor)
@Controller('v1/incidents/:id')
export class ResolutionHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Post('resolution')
  @Roles('operator')
  @CommandEndpoint('Resolve the incident: keeps its highest tier, closes open obligations')
  resolve(
    @IncidentIdParam() id: string,
    @Body() body: ResolveIncidentDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'ResolveIncident', data: dataOf(body) },
      withOccurredAt(context, body),
    );
  }
}

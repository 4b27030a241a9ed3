import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CATEGORIES, SEVERITIES, SOURCE_KINDS } from '@truceline/domain';
import type { BreachReported, Category, Severity, SourceKind } from '@truceline/domain';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import type { FastifyReply } from 'fastify';
import { Roles } from '../auth/roles.decorator';
import { CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { Nested, NumberBetween, OneOf, Text } from '../http/dto-fields';
import { withRevisionETag } from '../http/etag.interceptor';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt, CommandBody } from './command-body';

type Location = BreachReported['location'];
type Source = BreachReported['source'];

export class LocationDto implements Location {
  @Text(100, { example: 'Zaporizhzhia-3' })
  sector!: string;

  @NumberBetween(0, 1400, { description: 'Position along the 1,400 km front line', example: 512.5 })
  frontlineKm!: number;

  @NumberBetween(-90, 90, { required: false, example: 47.6 })
  lat?: number;

  @NumberBetween(-180, 180, { required: false, example: 35.9 })
  lon?: number;
}

export class SourceDto implements Source {
  @OneOf(SOURCE_KINDS, { description: 'sensor: US monitoring technology along the front line' })
  kind!: SourceKind;

  @Text(200, { description: 'Sensor, monitor or reporting party id', example: 'sensor-0412' })
  id!: string;
}

export class ReportBreachDto extends CommandBody implements BreachReported {
  @Nested(() => LocationDto)
  location!: LocationDto;

  @OneOf(CATEGORIES)
  category!: Category;

  @OneOf(SEVERITIES)
  severity!: Severity;

  @Nested(() => SourceDto)
  source!: SourceDto;

  @Text(2000, { example: 'Artillery fire on positions near the line of contact' })
  summary!: string;
}

@ApiTags('incidents')
@ApiBearerAuth()
@Controller('v1/incidents')
export class ReportBreachHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Post()
  @Roles('operator', 'verifier', 'service')
  @CommandEndpoint('Report an alleged breach: opens an incident at tier 0', { opensIncident: true })
  // The ETag is set here rather than by RevisionETagInterceptor, as on GET /v1/incidents/{id}:
  // an interceptor puts every call through Nest's rxjs pipeline, and this is the API's most
  // frequent command.
  async report(
    @Body() body: ReportBreachDto,
    @CommandHeaders() context: CommandContext,
    @Res({ passthrough: true }) response: FastifyReply,
  ): Promise<CommandResult> {
    const result = await this.runtime.commands.execute(
      null,
      { type: 'ReportBreach', data: dataOf(body) },
      withOccurredAt(context, body),
    );
    return withRevisionETag(response, result);
  }
}

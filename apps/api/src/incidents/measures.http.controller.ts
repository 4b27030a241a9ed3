import { Body, Controller, Post, UseInterceptors, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type {
  ResponseActionReported,
  WarningIssued,
  WesternResponseActivated,
} from '@truceline/domain';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import { ValidateBy } from 'class-validator';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { Text, TextList } from '../http/dto-fields';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt, CommandBody } from './command-body';

export class RecordWarningDto extends CommandBody implements WarningIssued {
  @Text(200, { description: 'The agreed international channel', example: 'OSCE' })
  channel!: string;

  @Text(200, { example: 'RU' })
  recipient!: string;

  @Text(500, { example: 'note-verbale-2025-0412' })
  reference!: string;
}

export class ReportResponseActionDto extends CommandBody implements ResponseActionReported {
  @Text(200, { description: 'The Ukrainian unit that acted', example: 'UA 65th brigade' })
  actor!: string;

  @Text(2000, { example: 'counter-battery fire halted the shelling' })
  action!: string;
}

/** The same rule as the decider's: a US element is named as a word ("US air", "ISR (US)"). */
const US_ELEMENT = /\bUS\b/;

const IncludesUsElement = () =>
  ValidateBy({
    name: 'includesUsElement',
    validator: {
      validate: (elements: unknown) =>
        Array.isArray(elements) &&
        elements.some((e) => typeof e === 'string' && US_ELEMENT.test(e)),
      defaultMessage: () =>
        '$property must include at least one US element, e.g. "US intelligence" (SPEC §1, tier 3)',
    },
  });

/** Checked after the list itself is valid, so a bad list gets the more basic message. */
const WesternForceElements = () =>
  applyDecorators(
    TextList(
      { minItems: 1, maxItems: 50, maxLength: 200 },
      {
        example: ['US intelligence', 'US logistics', 'GB air'],
        rule: 'at least one element names a US element: the word US, e.g. "US intelligence"',
      },
    ),
    IncludesUsElement(),
  );

export class ActivateWesternResponseDto extends CommandBody implements WesternResponseActivated {
  @WesternForceElements()
  elements!: string[];

  @Text(500, { example: 'EUCOM-OPORD-17' })
  reference!: string;
}

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

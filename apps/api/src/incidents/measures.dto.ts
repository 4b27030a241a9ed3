import type {
  ResponseActionReported,
  WarningIssued,
  WesternResponseActivated,
} from '@truceline/domain';
import { applyDecorators } from '@nestjs/common';
import { ValidateBy } from 'class-validator';
import { Text, TextList } from '../http/dto-fields';
import { CommandBody } from './command-body';

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

import { SCALES } from '@truceline/domain';
import type { EscalationAssessed, HostilitiesPersisted, Scale } from '@truceline/domain';
import { OneOf, Text } from '../http/dto-fields';
import { CommandBody } from './command-body';

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

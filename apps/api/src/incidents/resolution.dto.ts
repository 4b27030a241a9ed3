import { RESOLUTIONS } from '@truceline/domain';
import type { IncidentResolved, Resolution } from '@truceline/domain';
import { OneOf, Text } from '../http/dto-fields';
import { CommandBody } from './command-body';

export class ResolveIncidentDto extends CommandBody implements IncidentResolved {
  @OneOf(RESOLUTIONS)
  resolution!: Resolution;

  @Text(2000, { required: false })
  note?: string;
}

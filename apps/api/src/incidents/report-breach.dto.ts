import { CATEGORIES, SEVERITIES, SOURCE_KINDS } from '@truceline/domain';
import type { BreachReported, Category, Severity, SourceKind } from '@truceline/domain';
import { Nested, NumberBetween, OneOf, Text } from '../http/dto-fields';
import { CommandBody } from './command-body';

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

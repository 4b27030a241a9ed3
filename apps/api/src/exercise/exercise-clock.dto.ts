import { ApiProperty } from '@nestjs/swagger';
import { Instant } from '../http/dto-fields';

export class AdvanceClockDto {
  @Instant({ description: 'The new exercise time; must not lie before the current one' })
  now!: string;
}

export class ExerciseClockDto {
  @ApiProperty({ format: 'date-time' }) now!: string;
  @ApiProperty({ enum: ['system', 'exercise'] }) mode!: 'system' | 'exercise';
}

import type { IncidentListFilter, IncidentView } from '@truceline/projections';
import { ApiProperty } from '@nestjs/swagger';
import { Matches, ValidateIf } from 'class-validator';
import { OneOf, QueryInteger, Text } from '../http/dto-fields';
import { CURSOR } from '../http/patterns';

export const INCIDENT_STATUSES = ['verifying', 'open', 'rejected', 'resolved'] as const;

export class ListIncidentsQueryDto implements IncidentListFilter {
  @QueryInteger(0, 3)
  tier?: number;

  @OneOf(INCIDENT_STATUSES, { required: false })
  status?: IncidentView['status'];

  @Text(100, { required: false })
  sector?: string;

  @ApiProperty({
    type: String,
    required: false,
    pattern: CURSOR.source,
    description: 'nextCursor of the previous page (opaque)',
  })
  @ValidateIf((_query: object, value: unknown) => value !== undefined)
  @Matches(CURSOR, { message: '$property must be the nextCursor of a previous page' })
  cursor?: string;

  @QueryInteger(1, 200, { description: 'Page size' })
  limit?: number;
}

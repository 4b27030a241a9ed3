import type { IncidentListFilter, IncidentView } from '@truceline/projections';
import { OneOf, QueryInteger, Text } from '../http/dto-fields';

export const INCIDENT_STATUSES = ['verifying', 'open', 'rejected', 'resolved'] as const;

export class ListIncidentsQueryDto implements IncidentListFilter {
  @QueryInteger(0, 3)
  tier?: number;

  @OneOf(INCIDENT_STATUSES, { required: false })
  status?: IncidentView['status'];

  @Text(100, { required: false })
  sector?: string;

  @Text(500, { required: false, description: 'nextCursor of the previous page' })
  cursor?: string;

  @QueryInteger(1, 200, { description: 'Page size' })
  limit?: number;
}

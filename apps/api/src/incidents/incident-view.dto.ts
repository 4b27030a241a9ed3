import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CAPABILITIES, OBLIGATION_KINDS, ROLES } from '@truceline/domain';
import { INCIDENT_STATUSES } from './list-incidents.dto';

/**
 * The bodies the incident reads answer with (SPEC §6), for the OpenAPI document only: the
 * controllers return the read model's own types.
 */

export class TierChangeDto {
  @ApiProperty({ type: 'integer', minimum: 0, maximum: 3 }) tier!: number;
  @ApiProperty({ format: 'date-time', description: 'occurredAt of the cause' }) at!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
  @ApiProperty({ format: 'uuid', description: 'The event that moved the tier' }) causedBy!: string;
  @ApiProperty({ type: 'integer', minimum: 1 }) policyVersion!: number;
}

export class ObligationDto {
  @ApiProperty({ enum: OBLIGATION_KINDS }) kind!: string;
  @ApiProperty({ format: 'date-time' }) dueAt!: string;
  @ApiProperty({ enum: ['open', 'met', 'missed', 'closed'] }) status!: string;
  @ApiPropertyOptional({ format: 'date-time' }) satisfiedAt?: string;
  @ApiPropertyOptional({ format: 'date-time' }) missedAt?: string;
  @ApiPropertyOptional({ description: 'The coalition task an acknowledgement is due for' })
  refId?: string;
  @ApiPropertyOptional({
    description: 'Met by an event recorded after the DeadlineMissed (SPEC §2)',
  })
  recordedLate?: boolean;
}

export class CoalitionTaskDto {
  @ApiProperty() taskId!: string;
  @ApiProperty({ type: 'integer', enum: [2, 3] }) tier!: number;
  @ApiProperty({ pattern: '^[A-Z]{2}$' }) member!: string;
  @ApiProperty({ enum: CAPABILITIES }) capability!: string;
  @ApiProperty({ format: 'date-time' }) dueAt!: string;
  @ApiProperty({ enum: ['assigned', 'acknowledged', 'declined', 'completed'] }) status!: string;
}

export class AcknowledgementDto {
  @ApiProperty({ pattern: '^[A-Z]{2}$' }) partner!: string;
  @ApiProperty({ format: 'uuid', description: 'The notice acknowledged' }) eventId!: string;
  @ApiProperty({ format: 'date-time' }) at!: string;
}

export class IncidentSummaryDto {
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ enum: INCIDENT_STATUSES }) status!: string;
  @ApiProperty({ type: 'integer', minimum: 0, maximum: 3 }) tier!: number;
  @ApiProperty() sector!: string;
  @ApiProperty({ format: 'date-time' }) firstViolationAt!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) revision!: number;
  @ApiProperty({ description: 'Recorded in exercise mode (SPEC §2)' }) exercise!: boolean;
}

export class IncidentPageDto {
  @ApiProperty({ type: [IncidentSummaryDto] }) items!: IncidentSummaryDto[];
  @ApiProperty({
    type: String,
    nullable: true,
    pattern: '^p[0-9]{1,15}$',
    description: 'The cursor of the next page; null on the last page',
  })
  nextCursor!: string | null;
}

export class IncidentViewDto extends IncidentSummaryDto {
  @ApiProperty({ type: [TierChangeDto] }) tierHistory!: TierChangeDto[];
  @ApiProperty({ type: [ObligationDto] }) obligations!: ObligationDto[];
  @ApiProperty({ type: [CoalitionTaskDto] }) coalitionTasks!: CoalitionTaskDto[];
  @ApiPropertyOptional({
    type: [AcknowledgementDto],
    description: 'Receipts of notices; absent when there are none (a ministry sees its own)',
  })
  acknowledgements?: AcknowledgementDto[];
}

export class ActorDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiPropertyOptional({ pattern: '^[A-Z]{2}$' }) partner?: string;
}

export class EventMetadataDto {
  @ApiProperty() correlationId!: string;
  @ApiProperty({ type: String, nullable: true }) causationId!: string | null;
  @ApiProperty({ type: ActorDto }) actor!: ActorDto;
  @ApiProperty({ type: 'integer', minimum: 1 }) policyVersion!: number;
  @ApiPropertyOptional({ description: 'Stored in exercise mode (SPEC §2)' }) exercise?: boolean;
  @ApiPropertyOptional({ description: 'W3C trace context' }) traceparent?: string;
}

/** The stored envelope of SPEC §4. */
export class StoredEventDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'BreachReported' }) type!: string;
  @ApiProperty({ type: 'integer', minimum: 1 }) schemaVersion!: number;
  @ApiProperty({ example: 'incident-6f1c…' }) streamId!: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) revision!: number;
  @ApiProperty({ type: 'integer', minimum: 1 }) position!: number;
  @ApiProperty({ format: 'date-time' }) occurredAt!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The event data' })
  data!: Record<string, unknown>;
  @ApiProperty({ type: EventMetadataDto }) metadata!: EventMetadataDto;
}

export class IncidentEventsDto {
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ type: [StoredEventDto], description: 'In revision order' })
  events!: StoredEventDto[];
}

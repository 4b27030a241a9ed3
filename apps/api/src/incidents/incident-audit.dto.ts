import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DECISIONS, NOTIFICATION_SUBJECTS, OBLIGATION_KINDS, ROLES } from '@truceline/domain';
import type {
  AuditActor,
  AuditDecision,
  AuditNotification,
  AuditObligation,
  AuditTierChange,
  AuditTimelineEntry,
} from '@truceline/projections';
import { Instant } from '../http/dto-fields';
import { CheckpointDto } from '../log/log.dto';
import { IncidentViewDto } from './incident-view.dto';

/** GET /v1/incidents/{id}/audit */
export class AuditQueryDto {
  @Instant({
    required: false,
    description:
      'On the recordedAt clock: the audit reads only events recorded at or before it ' +
      "(ISO 8601 with offset). Defaults to the clock's now (the exercise clock in exercise mode).",
  })
  asOf?: string;
}

// ---- the response body (SPEC §6) ------------------------------------------------------------

const TIERS = [0, 1, 2, 3];
const dateTime = { type: String, format: 'date-time' } as const;

class AuditActorDto implements AuditActor {
  @ApiPropertyOptional({ description: "The token's subject; withheld from ministries" })
  id?: string;
  @ApiProperty({ enum: ROLES }) role!: AuditActor['role'];
  @ApiPropertyOptional({ pattern: '^[A-Z]{2}$' }) partner?: string;
}

class AuditTimelineEntryDto implements AuditTimelineEntry {
  @ApiProperty({ format: 'uuid' }) eventId!: string;
  @ApiProperty({ example: 'WarningIssued' }) type!: string;
  @ApiProperty(dateTime) occurredAt!: string;
  @ApiProperty({ ...dateTime, description: 'When it became known (stored)' }) recordedAt!: string;
  @ApiProperty({
    description:
      'Recorded after an event of the incident that occurred more than 5 minutes later: ' +
      'a reading taken in between did not show it',
  })
  recordedLate!: boolean;
  @ApiProperty({ type: AuditActorDto }) actor!: AuditActorDto;
  @ApiProperty({ type: 'integer', minimum: 1 }) policyVersion!: number;
  @ApiProperty({ description: 'One line a person reads' }) summary!: string;
}

class AuditTierChangeDto implements AuditTierChange {
  @ApiProperty({ type: 'integer', enum: TIERS }) tier!: AuditTierChange['tier'];
  @ApiProperty(dateTime) at!: string;
  @ApiProperty({ format: 'uuid' }) causedBy!: string;
  @ApiProperty({ type: 'integer', minimum: 1 }) policyVersion!: number;
  @ApiProperty({
    description: 'The SPEC §5 rule that applied',
    example: '2 after HostilitiesPersisted while tier ≥ 1',
  })
  rule!: string;
}

class AuditDecisionDto implements AuditDecision {
  @ApiProperty({ format: 'uuid' }) eventId!: string;
  @ApiProperty() authority!: string;
  @ApiProperty({ enum: DECISIONS }) decision!: AuditDecision['decision'];
  @ApiProperty() rationale!: string;
  @ApiPropertyOptional({ type: [String] }) optionsConsidered?: string[];
  @ApiProperty(dateTime) at!: string;
  @ApiProperty(dateTime) recordedAt!: string;
}

class SatisfiedByDto {
  @ApiProperty({ format: 'uuid' }) eventId!: string;
  @ApiProperty({ type: AuditActorDto }) actor!: AuditActorDto;
  @ApiProperty(dateTime) occurredAt!: string;
  @ApiProperty(dateTime) recordedAt!: string;
}

class MissedDto {
  @ApiProperty({ ...dateTime, description: 'occurredAt of the DeadlineMissed (its dueAt)' })
  at!: string;
  @ApiProperty({ ...dateTime, description: 'When the DeadlineMissed was recorded' })
  recordedAt!: string;
}

class AuditObligationDto implements AuditObligation {
  @ApiProperty({ enum: OBLIGATION_KINDS }) kind!: AuditObligation['kind'];
  @ApiPropertyOptional({ description: 'Coalition acknowledgements: the task id' }) refId?: string;
  @ApiProperty(dateTime) dueAt!: string;
  @ApiProperty({ enum: ['open', 'met', 'missed', 'closed'] }) status!: AuditObligation['status'];
  @ApiPropertyOptional({ type: SatisfiedByDto, description: 'The event that met it' })
  satisfiedBy?: SatisfiedByDto;
  @ApiPropertyOptional({
    type: MissedDto,
    description: 'Its DeadlineMissed; kept when the obligation was met later (recorded late)',
  })
  missed?: MissedDto;
  @ApiPropertyOptional({
    description: 'Met by an event recorded after its DeadlineMissed (present only when true)',
  })
  recordedLate?: boolean;
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    description: 'The version of the event that opened it, which fixed its dueAt',
  })
  policyVersion!: number;
}

class AuditNotificationDto implements AuditNotification {
  @ApiProperty({ pattern: '^[A-Z]{2}$' }) partner!: string;
  @ApiProperty({ enum: NOTIFICATION_SUBJECTS }) subject!: AuditNotification['subject'];
  @ApiPropertyOptional({ type: 'integer', enum: TIERS }) tier?: number;
  @ApiPropertyOptional(dateTime) deliveredAt?: string;
  @ApiPropertyOptional(dateTime) acknowledgedAt?: string;
}

/** For the OpenAPI document only: the controller returns the projection's own IncidentAudit. */
export class IncidentAuditDto {
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ ...dateTime, description: 'The instant the audit was built as of' }) asOf!: string;
  @ApiProperty({ description: 'Drill data (SPEC §2): reports show an EXERCISE banner' })
  exercise!: boolean;
  @ApiProperty({
    type: IncidentViewDto,
    description: 'The incident as it could be known at asOf (events recorded ≤ asOf only)',
  })
  knownAt!: IncidentViewDto;
  @ApiProperty({ type: [AuditTimelineEntryDto], description: 'Every event, by occurredAt' })
  timeline!: AuditTimelineEntryDto[];
  @ApiProperty({ type: [AuditTierChangeDto] }) tierChanges!: AuditTierChangeDto[];
  @ApiProperty({ type: [AuditDecisionDto] }) decisions!: AuditDecisionDto[];
  @ApiProperty({ type: [AuditObligationDto] }) obligations!: AuditObligationDto[];
  @ApiProperty({ type: [AuditNotificationDto] }) notifications!: AuditNotificationDto[];
  @ApiPropertyOptional({
    type: CheckpointDto,
    description:
      'The latest signed checkpoint covering every event listed (SPEC §10); absent where ' +
      'the log is not sealed',
  })
  checkpoint?: CheckpointDto;
}

import { ApiProperty } from '@nestjs/swagger';
import { IsDefined, IsUUID } from 'class-validator';
import { QueryInteger } from '../http/dto-fields';
import { UUID } from '../http/patterns';

export const FEED_DEFAULT_LIMIT = 100;
export const FEED_MAX_LIMIT = 500;
/** Positions of a feed are whole numbers well below 2^53; a larger `after` is a client bug. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * GET /v1/feed. There is deliberately no `partner` field: a ministry reads its token's partner's
 * feed only, and any other parameter is refused (400), not ignored.
 */
export class FeedPageQueryDto {
  @QueryInteger(0, MAX_SEQ, { description: 'The seq of the last entry already read' })
  after?: number;

  @QueryInteger(1, FEED_MAX_LIMIT, { description: `Page size (default ${FEED_DEFAULT_LIMIT})` })
  limit?: number;
}

/** GET /v1/feed/stream: where to start when there is no Last-Event-ID header. */
export class FeedStreamQueryDto {
  @QueryInteger(0, MAX_SEQ, { description: 'The seq of the last entry already read' })
  after?: number;
}

export class AcknowledgeNoticeDto {
  @ApiProperty({
    format: 'uuid',
    pattern: UUID.source,
    description: 'The id of a feed entry addressed to the partner',
  })
  @IsDefined({ message: '$property is required' })
  @IsUUID('all', { message: '$property must be a UUID' })
  eventId!: string;
}

export class FeedEntryDto {
  @ApiProperty({ type: 'integer', minimum: 1, description: "Position in the partner's feed" })
  seq!: number;
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({
    example: 'IncidentTierChanged',
    description:
      'An event type the partner may see, IncidentTierChanged, or LogCheckpoint: a signed ' +
      'checkpoint of the log (SPEC §10), its data `{ checkpoint, origin, treeSize, rootHash }`',
  })
  type!: string;
  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'null for a LogCheckpoint, which is about the whole log',
  })
  incidentId!: string | null;
  @ApiProperty({ format: 'date-time', description: 'For a LogCheckpoint: when it was signed' })
  occurredAt!: string;
  @ApiProperty({ format: 'date-time' }) recordedAt!: string;
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    description: 'Position in the log (for a LogCheckpoint: of the last event it covers)',
  })
  position!: number;
  @ApiProperty({
    description: 'Drill data: produced in exercise mode, never a real breach (SPEC §2)',
  })
  exercise!: boolean;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'What the partner may see',
  })
  data!: Record<string, unknown>;
}

export class FeedPageDto {
  @ApiProperty({ pattern: '^[A-Z]{2}$', description: "The token's partner" }) partner!: string;
  @ApiProperty({ type: [FeedEntryDto] }) entries!: FeedEntryDto[];
  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description: "The `after` of the next page: the last entry's seq, or this page's `after`",
  })
  next!: number;
}

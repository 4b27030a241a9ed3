import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NOTIFICATION_SUBJECTS } from '@truceline/domain';

class WarningReference {
  @ApiProperty({ example: 'agreed-international-channel' }) channel!: string;
  @ApiProperty({ example: 'RU' }) recipient!: string;
  @ApiProperty({ description: "The WarningIssued event's reference" }) reference!: string;
}

/**
 * The JSON body a partner's webhook receives (SPEC §5, docs/webhooks.md), signed as Standard
 * Webhooks say. Not a route of this API: listed in the document (components and `x-webhooks`)
 * so that receivers can generate or validate against it.
 */
export class WebhookNotice {
  @ApiProperty({ format: 'uuid', description: 'The delivery id, equal to the webhook-id header' })
  deliveryId!: string;
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ enum: NOTIFICATION_SUBJECTS }) subject!: string;
  @ApiPropertyOptional({ minimum: 0, maximum: 3, description: 'tier-change: the tier reached' })
  tier?: number;
  @ApiPropertyOptional({ description: 'task: the coalition task' }) taskId?: string;
  @ApiPropertyOptional({ pattern: '^[A-Z]{2}$', description: 'task: the tasked member' })
  member?: string;
  @ApiPropertyOptional({ description: 'task: the capability asked for' }) capability?: string;
  @ApiPropertyOptional({ format: 'date-time', description: "task: the answer's deadline" })
  dueAt?: string;
  @ApiPropertyOptional({ type: WarningReference, description: 'warning: how it was issued' })
  warning?: WarningReference;
  @ApiProperty({ format: 'date-time', description: 'When what the notice reports happened' })
  occurredAt!: string;
  @ApiProperty({ description: 'Drill data' }) exercise!: boolean;
}

import { ApiProperty } from '@nestjs/swagger';
import { xRule } from '../http/api-docs';
import { MAX_ROSTER, MAX_WINDOW_HOURS } from '@truceline/config';
import { CAPABILITIES, PARTNER_CODES } from '@truceline/domain';
import { ActorDto } from '../incidents/incident-view.dto';

/**
 * The policy document of POST /v1/policies and the versions GET /v1/policies lists (SPEC §3),
 * for the OpenAPI document only: the body is validated by `parsePolicyDocument` (libs/config),
 * which `replay --policy FILE` uses too. Each constraint it enforces is stated here.
 */
const partnerCode = {
  type: String,
  enum: [...PARTNER_CODES],
  enumName: 'PartnerCode',
  description: 'ISO 3166-1 alpha-2 code or EU',
};

const windowHours = (description: string) => ({
  type: Number,
  minimum: 0,
  exclusiveMinimum: true,
  maximum: MAX_WINDOW_HOURS,
  description: `${description} (hours, > 0)`,
});

export class RosterEntryDto {
  @ApiProperty(partnerCode) member!: string;
  @ApiProperty({
    enum: CAPABILITIES,
    isArray: true,
    minItems: 1,
    uniqueItems: true,
  })
  capabilities!: string[];
}

export class RepeatedViolationDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: 1000 }) confirmedBreaches!: number;
  @ApiProperty(windowHours('the window the reports lie within')) windowHours!: number;
}

const roster = (description: string) => ({
  type: RosterEntryDto,
  isArray: true,
  minItems: 1,
  maxItems: MAX_ROSTER,
  description: `${description}; each member listed once`,
  ...xRule('each member listed once'),
});

export class PolicyDocumentDto {
  @ApiProperty(windowHours('from the report'))
  verificationWindowHours!: number;
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    maximum: MAX_ROSTER,
    description: 'distinct verifiers reporting confirmed; at most the size of verifierRoster',
    ...xRule('at most the size of verifierRoster'),
  })
  verificationQuorum!: number;
  @ApiProperty(windowHours('from confirmation')) warningWindowHours!: number;
  @ApiProperty(windowHours('from task assignment')) coalitionAckWindowHours!: number;
  @ApiProperty(windowHours('from the first violation')) westernResponseWindowHours!: number;
  @ApiProperty({ type: RepeatedViolationDto }) repeatedViolation!: RepeatedViolationDto;
  @ApiProperty({
    ...partnerCode,
    isArray: true,
    minItems: 1,
    maxItems: MAX_ROSTER,
    uniqueItems: true,
    description: 'asked to verify every report',
  })
  verifierRoster!: string[];
  @ApiProperty(roster('tasked at tier 2')) coalitionRoster!: RosterEntryDto[];
  @ApiProperty(roster('the Western-backed force, tasked at tier 3'))
  westernForceRoster!: RosterEntryDto[];
}

export class EscalationPolicyDto extends PolicyDocumentDto {
  @ApiProperty({ type: 'integer', minimum: 1 }) version!: number;
}

export class AdoptedPolicyDto {
  @ApiProperty({ type: 'integer', minimum: 1 }) version!: number;
  @ApiProperty({ format: 'date-time', description: 'When the adoption was recorded' })
  adoptedAt!: string;
  @ApiProperty({ type: ActorDto }) adoptedBy!: ActorDto;
  @ApiProperty({ format: 'uuid', description: 'The EscalationPolicyAdopted event' })
  eventId!: string;
  @ApiProperty({ type: EscalationPolicyDto }) policy!: EscalationPolicyDto;
}

export class PolicyVersionsDto {
  @ApiProperty({ type: 'integer', minimum: 1, description: 'The version in force' })
  current!: number;
  @ApiProperty({ type: [AdoptedPolicyDto], description: 'Oldest first' })
  versions!: AdoptedPolicyDto[];
}

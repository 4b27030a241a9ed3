import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { xRule } from '../http/api-docs';
import { Transform } from 'class-transformer';
import { IsDefined, IsInt, Max, Min } from 'class-validator';
import type { CheckpointView } from '@truceline/ledger';
import { QueryInteger } from '../http/dto-fields';
import { StoredEventDto } from '../incidents/incident-view.dto';

/** Tree sizes are event counts, far below 2^53. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

const BASE64_HASH = '^[A-Za-z0-9+/]{43}=$';

/** A required whole-number query parameter. */
const RequiredQueryInteger = (min: number, max: number, description: string, rule: string) =>
  applyDecorators(
    ApiProperty({
      type: 'integer',
      required: true,
      minimum: min,
      maximum: max,
      description,
      ...xRule(rule),
    }),
    IsDefined({ message: '$property is required' }),
    Transform(({ value }) => (typeof value === 'string' && /^\d+$/.test(value) ? +value : value)),
    IsInt({ message: `$property must be a whole number from ${min} to ${max}` }),
    Min(min, { message: `$property must be a whole number from ${min} to ${max}` }),
    Max(max, { message: `$property must be a whole number from ${min} to ${max}` }),
  );

/** GET /v1/log/consistency */
export class ConsistencyQueryDto {
  @RequiredQueryInteger(
    1,
    MAX_TREE_SIZE,
    'The smaller tree size (e.g. of a checkpoint held)',
    'not greater than `to`',
  )
  from!: number;

  @RequiredQueryInteger(
    1,
    MAX_TREE_SIZE,
    'The larger tree size, at most the size the log has sealed (400 beyond it, or below from)',
    'at most the tree size the log has sealed',
  )
  to!: number;
}

/** GET /v1/incidents/{id}/proof */
export class ProofQueryDto {
  @QueryInteger(1, MAX_TREE_SIZE, {
    description:
      'Prove against the stored checkpoint of this tree size (400 when none has it); default: ' +
      'the latest checkpoint covering every event of the incident, signed on demand',
    rule: 'the tree size of a stored checkpoint',
  })
  treeSize?: number;
}

export class CheckpointDto implements CheckpointView {
  @ApiProperty({
    description:
      'The C2SP tlog-checkpoint as a signed note: origin `truceline/<deployment>`, tree size, ' +
      'base64 root hash, a blank line, then the Ed25519 signature line',
    example: 'truceline/prod\n42\nq5F…=\n\n— truceline/prod Ab3…=\n',
  })
  checkpoint!: string;
  @ApiProperty({ type: 'integer', minimum: 1, description: 'Events covered (positions in order)' })
  treeSize!: number;
  @ApiProperty({ pattern: BASE64_HASH, description: 'RFC 9162 root hash, base64' })
  rootHash!: string;
  @ApiProperty({
    description: 'The Ed25519 public key in C2SP vkey form (<name>+<hash>+<key>): pin it',
    example: 'truceline/prod+1a2b3c4d+AdE…',
  })
  verifierKey!: string;
}

export class ConsistencyProofDto {
  @ApiProperty({ type: 'integer', minimum: 1 }) from!: number;
  @ApiProperty({ type: 'integer', minimum: 1 }) to!: number;
  @ApiProperty({
    type: 'string',
    isArray: true,
    pattern: BASE64_HASH,
    description: 'RFC 9162 §2.1.4 consistency proof, base64 hashes (empty when from = to)',
  })
  proof!: string[];
}

export class EventProofDto {
  @ApiProperty({ type: StoredEventDto }) event!: StoredEventDto;
  @ApiProperty({ type: 'integer', minimum: 0, description: "The event's leaf in the tree" })
  leafIndex!: number;
  @ApiProperty({
    pattern: BASE64_HASH,
    description: 'SHA-256(0x00 ‖ RFC 8785 canonical JSON of the envelope), base64',
  })
  leafHash!: string;
  @ApiProperty({
    type: 'string',
    isArray: true,
    pattern: BASE64_HASH,
    description: 'RFC 9162 §2.1.3 inclusion proof against the checkpoint, leaf to root, base64',
  })
  inclusionProof!: string[];
}

export class IncidentProofDto {
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ type: CheckpointDto }) checkpoint!: CheckpointDto;
  @ApiProperty({
    type: [EventProofDto],
    description:
      'In revision order; events after the checkpoint are left out. A ministry gets the events ' +
      'its feed releases to it unredacted; a redacted one (a report, whose source is withheld) ' +
      'is left out, since its leaf would let the withheld value be guessed',
  })
  events!: EventProofDto[];
}

import 'reflect-metadata';
import {
  CAPABILITIES,
  Capability,
  EscalationPolicyDocument,
  isKnownPartnerCode,
  PartnerCode,
  ValidationError,
} from '@truceline/domain';
import { plainToInstance, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  Max,
  Min,
  Validate,
  ValidateNested,
  ValidationArguments,
  ValidationError as FieldFailure,
  ValidatorConstraint,
  ValidatorConstraintInterface,
  validateSync,
} from 'class-validator';

/**
 * An escalation policy document (SPEC §3) as an operator submits it — to POST /v1/policies, or
 * as the FILE of `replay --policy` — validated here once for every edge that reads one. The
 * server assigns the version, so the document has none.
 */

/** Windows are hours after an event: more than none, at most a year. */
export const MAX_WINDOW_HOURS = 8_760;
/** Rosters list partners, never more than there are partner codes. */
export const MAX_ROSTER = 250;

const PARTNER_MESSAGE = 'must be an ISO 3166-1 alpha-2 code or EU (upper case)';

@ValidatorConstraint({ name: 'knownPartnerCodes' })
class KnownPartnerCodes implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return Array.isArray(value) ? value.every(isKnownPartnerCode) : isKnownPartnerCode(value);
  }
  defaultMessage(args: ValidationArguments): string {
    if (!Array.isArray(args.value)) return `${args.property} ${PARTNER_MESSAGE}`;
    const unknown = args.value.filter((code) => !isKnownPartnerCode(code)).map(String);
    return `${args.property} holds unknown partner codes (${unknown.join(', ')}): each ${PARTNER_MESSAGE}`;
  }
}

/** A quorum no roster could reach would leave every report verifying for ever. */
@ValidatorConstraint({ name: 'quorumWithinRoster' })
class QuorumWithinRoster implements ValidatorConstraintInterface {
  validate(quorum: unknown, args: ValidationArguments): boolean {
    const roster = (args.object as PolicyDocumentInput).verifierRoster;
    return !Array.isArray(roster) || (typeof quorum === 'number' && quorum <= roster.length);
  }
  defaultMessage(args: ValidationArguments): string {
    const roster = (args.object as PolicyDocumentInput).verifierRoster;
    return `verificationQuorum must be at most the size of verifierRoster (${roster.length})`;
  }
}

/** Each member is listed once: its capabilities go in one entry. */
@ValidatorConstraint({ name: 'uniqueMembers' })
class UniqueMembers implements ValidatorConstraintInterface {
  validate(entries: unknown): boolean {
    if (!Array.isArray(entries)) return true;
    const members = entries.map((e) => (e as { member?: unknown } | null)?.member);
    return new Set(members).size === members.length;
  }
  defaultMessage(args: ValidationArguments): string {
    return `${args.property} lists a member more than once`;
  }
}

const windowHours = (property: string) => [
  IsDefined({ message: `${property} is required` }),
  IsNumber(
    { allowNaN: false, allowInfinity: false },
    { message: `${property} must be a number of hours` },
  ),
  Min(Number.MIN_VALUE, { message: `${property} must be greater than 0` }),
  Max(MAX_WINDOW_HOURS, { message: `${property} must be at most ${MAX_WINDOW_HOURS}` }),
];

const apply =
  (decorators: PropertyDecorator[]): PropertyDecorator =>
  (target, key) =>
    decorators.forEach((decorate) => decorate(target, key));

export class RosterEntryInput {
  @IsDefined({ message: 'member is required' })
  @Validate(KnownPartnerCodes)
  member!: PartnerCode;

  @IsArray({ message: 'capabilities must be a list' })
  @ArrayNotEmpty({ message: 'capabilities must name at least one capability' })
  @ArrayUnique({ message: 'capabilities must not repeat a capability' })
  @IsIn(CAPABILITIES, {
    each: true,
    message: `each capability must be one of: ${CAPABILITIES.join(', ')}`,
  })
  capabilities!: Capability[];
}

export class RepeatedViolationInput {
  @IsDefined({ message: 'confirmedBreaches is required' })
  @IsInt({ message: 'confirmedBreaches must be an integer' })
  @Min(1, { message: 'confirmedBreaches must be at least 1' })
  @Max(1_000, { message: 'confirmedBreaches must be at most 1000' })
  confirmedBreaches!: number;

  @apply(windowHours('windowHours'))
  windowHours!: number;
}

const roster = (property: string): PropertyDecorator[] => [
  IsArray({ message: `${property} must be a list` }),
  ArrayNotEmpty({ message: `${property} must list at least one member` }),
  ArrayMaxSize(MAX_ROSTER, { message: `${property} must list at most ${MAX_ROSTER} members` }),
  Validate(UniqueMembers),
  ValidateNested({ each: true }),
  Type(() => RosterEntryInput),
];

export class PolicyDocumentInput implements EscalationPolicyDocument {
  @apply(windowHours('verificationWindowHours'))
  verificationWindowHours!: number;

  @IsDefined({ message: 'verificationQuorum is required' })
  @IsInt({ message: 'verificationQuorum must be an integer' })
  @Min(1, { message: 'verificationQuorum must be at least 1' })
  @Validate(QuorumWithinRoster)
  verificationQuorum!: number;

  @apply(windowHours('warningWindowHours'))
  warningWindowHours!: number;

  @apply(windowHours('coalitionAckWindowHours'))
  coalitionAckWindowHours!: number;

  @apply(windowHours('westernResponseWindowHours'))
  westernResponseWindowHours!: number;

  @IsDefined({ message: 'repeatedViolation is required' })
  @IsObject({ message: 'repeatedViolation must be an object' })
  @ValidateNested()
  @Type(() => RepeatedViolationInput)
  repeatedViolation!: RepeatedViolationInput;

  @IsArray({ message: 'verifierRoster must be a list' })
  @ArrayNotEmpty({ message: 'verifierRoster must list at least one verifier' })
  @ArrayMaxSize(MAX_ROSTER, { message: `verifierRoster must list at most ${MAX_ROSTER}` })
  @ArrayUnique({ message: 'verifierRoster must not list a verifier twice' })
  @Validate(KnownPartnerCodes)
  verifierRoster!: PartnerCode[];

  @apply(roster('coalitionRoster'))
  coalitionRoster!: RosterEntryInput[];

  @apply(roster('westernForceRoster'))
  westernForceRoster!: RosterEntryInput[];
}

/** class-validator's tree as one entry per bad field, dotted (`coalitionRoster.2.member`). */
function fieldErrors(failures: FieldFailure[], parent = ''): { field: string; message: string }[] {
  return failures.flatMap((failure) => {
    const field = parent ? `${parent}.${failure.property}` : failure.property;
    const own = Object.values(failure.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...fieldErrors(failure.children ?? [], field)];
  });
}

/**
 * The document as the policy it describes, or a ValidationError (400) naming every bad field:
 * windows > 0, a quorum the verifier roster can reach, known partner codes and capabilities,
 * and no field the document does not have (`version` included: the server assigns it).
 */
export function parsePolicyDocument(input: unknown): EscalationPolicyDocument {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ValidationError('a policy document is a JSON object', [
      { field: 'body', message: 'must be a JSON object' },
    ]);
  const document = plainToInstance(PolicyDocumentInput, input);
  const failures = validateSync(document, {
    whitelist: true,
    forbidNonWhitelisted: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
  });
  if (failures.length > 0) {
    const errors = fieldErrors(failures);
    const fields = [...new Set(errors.map((e) => e.field))];
    throw new ValidationError(`invalid policy document: ${fields.join(', ')}`, errors);
  }
  const entries = (list: RosterEntryInput[]) =>
    list.map(({ member, capabilities }) => ({ member, capabilities: [...capabilities] }));
  return {
    verificationWindowHours: document.verificationWindowHours,
    verificationQuorum: document.verificationQuorum,
    warningWindowHours: document.warningWindowHours,
    coalitionAckWindowHours: document.coalitionAckWindowHours,
    westernResponseWindowHours: document.westernResponseWindowHours,
    repeatedViolation: {
      confirmedBreaches: document.repeatedViolation.confirmedBreaches,
      windowHours: document.repeatedViolation.windowHours,
    },
    verifierRoster: [...document.verifierRoster],
    coalitionRoster: entries(document.coalitionRoster),
    westernForceRoster: entries(document.westernForceRoster),
  };
}

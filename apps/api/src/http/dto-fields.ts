import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsDefined,
  IsIn,
  isISO8601,
  IsInt,
  IsNumber,
  IsObject,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { INSTANT_DOC, TEXT } from './patterns';

/**
 * Field decorators for the request DTOs: each states a rule once for both class-validator and
 * the OpenAPI document. Rules run in the order listed and stop at the first failure
 * (`stopAtFirstError`), so each bad field gets one message.
 */

interface FieldDoc {
  description?: string;
  example?: unknown;
  /**
   * A rule the server checks beyond what JSON Schema can say (e.g. against the clock), in
   * prose: the document carries it as `x-rule`, so a client knows a schema-valid value may
   * still be refused with a 400 naming this field.
   */
  rule?: string;
}

const docOf = ({ rule, ...doc }: FieldDoc) =>
  rule === undefined ? doc : { ...doc, 'x-rule': rule };
interface Presence {
  /** Default true. */
  required?: boolean;
}

export const PARTNER_CODE = /^[A-Z]{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 instant with an offset (SPEC §2), e.g. 2025-06-01T08:00:00Z. */
export const isInstant = (value: unknown): value is string =>
  typeof value === 'string' &&
  INSTANT.test(value) &&
  isISO8601(value, { strict: true, strictSeparator: true });

/**
 * Required fields must be present; optional ones may be absent but not null, so a `null`
 * never reaches an event.
 */
const presence = (required: boolean) =>
  required
    ? IsDefined({ message: '$property is required' })
    : ValidateIf((_object: object, value: unknown) => value !== undefined);

const NotBlank = (each = false) =>
  Matches(/\S/, { each, message: `${each ? 'each value in ' : ''}$property must not be blank` });

/** NUL and unpaired surrogates cannot be stored (PostgreSQL's text and JSON refuse them). */
// eslint-disable-next-line no-control-regex -- NUL is the character refused
const UNSTORABLE = /[\u0000\p{Cs}]/u;
const Storable = (each = false) =>
  ValidateBy(
    {
      name: 'isStorableText',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && !UNSTORABLE.test(value),
        defaultMessage: () =>
          `${each ? 'each value in ' : ''}$property must not contain NUL or unpaired surrogates`,
      },
    },
    { each },
  );

/** The JSON Schema of one free-text string of the API. */
const textSchema = (maxLength: number) => ({
  type: 'string' as const,
  minLength: 1,
  maxLength,
  pattern: TEXT.source,
});

export const Text = (maxLength: number, { required = true, ...doc }: FieldDoc & Presence = {}) =>
  applyDecorators(
    ApiProperty({ ...textSchema(maxLength), required, ...docOf(doc) }),
    presence(required),
    IsString(),
    NotBlank(),
    Storable(),
    MaxLength(maxLength),
  );

export const OneOf = (
  values: readonly string[],
  { required = true, ...doc }: FieldDoc & Presence = {},
) =>
  applyDecorators(
    ApiProperty({ enum: [...values], required, ...docOf(doc) }),
    presence(required),
    IsIn([...values], { message: `$property must be one of: ${values.join(', ')}` }),
  );

export const Partner = ({ required = true, ...doc }: FieldDoc & Presence = {}) =>
  applyDecorators(
    ApiProperty({
      type: String,
      required,
      pattern: PARTNER_CODE.source,
      example: 'GB',
      ...docOf(doc),
    }),
    presence(required),
    Matches(PARTNER_CODE, {
      message: '$property must be a partner code (ISO 3166-1 alpha-2, or EU)',
    }),
  );

export const PartnerList = ({ required = true, ...doc }: FieldDoc & Presence = {}) =>
  applyDecorators(
    ApiProperty({
      type: 'array',
      items: { type: 'string', pattern: PARTNER_CODE.source },
      maxItems: 50,
      uniqueItems: true,
      required,
      example: ['UA', 'GB'],
      ...docOf(doc),
    }),
    presence(required),
    IsArray(),
    ArrayMaxSize(50),
    Matches(PARTNER_CODE, {
      each: true,
      message: 'each value in $property must be a partner code (ISO 3166-1 alpha-2, or EU)',
    }),
    ArrayUnique(),
  );

export const TextList = (
  { minItems = 0, maxItems, maxLength }: { minItems?: number; maxItems: number; maxLength: number },
  { required = true, ...doc }: FieldDoc & Presence = {},
) =>
  applyDecorators(
    ApiProperty({
      type: 'array',
      items: textSchema(maxLength),
      required,
      minItems,
      maxItems,
      ...docOf(doc),
    }),
    presence(required),
    IsArray(),
    ArrayMinSize(minItems),
    ArrayMaxSize(maxItems),
    IsString({ each: true }),
    NotBlank(true),
    Storable(true),
    MaxLength(maxLength, { each: true }),
  );

export const NumberBetween = (
  min: number,
  max: number,
  { required = true, ...doc }: FieldDoc & Presence = {},
) =>
  applyDecorators(
    ApiProperty({ type: Number, required, minimum: min, maximum: max, ...docOf(doc) }),
    presence(required),
    IsNumber({ allowNaN: false, allowInfinity: false }),
    Min(min),
    Max(max),
  );

export const Instant = ({ required = true, ...doc }: FieldDoc & Presence = {}) =>
  applyDecorators(
    ApiProperty({
      type: String,
      format: 'date-time',
      pattern: INSTANT_DOC.source,
      required,
      example: '2025-06-01T08:00:00Z',
      ...docOf(doc),
    }),
    presence(required),
    ValidateBy({
      name: 'isInstant',
      validator: {
        validate: isInstant,
        defaultMessage: () =>
          '$property must be an ISO 8601 instant with an offset, e.g. 2025-06-01T08:00:00Z',
      },
    }),
  );

/** A nested object validated by its own class. */
export const Nested = (type: () => new () => object, doc: FieldDoc = {}) =>
  applyDecorators(
    // A lazy type for the OpenAPI document is recognised by the name of its function: `type`.
    ApiProperty({ type: () => type(), ...docOf(doc) }),
    presence(true),
    IsObject({ message: '$property must be an object' }),
    ValidateNested(),
    Type(type),
  );

/** A query parameter holding a whole number; anything else (even '') stays a string and fails. */
export const QueryInteger = (min: number, max: number, doc: FieldDoc = {}) =>
  applyDecorators(
    ApiProperty({ type: 'integer', required: false, minimum: min, maximum: max, ...docOf(doc) }),
    presence(false),
    Transform(({ value }) => (typeof value === 'string' && /^\d+$/.test(value) ? +value : value)),
    IsInt({ message: `$property must be a whole number from ${min} to ${max}` }),
    Min(min, { message: `$property must be a whole number from ${min} to ${max}` }),
    Max(max, { message: `$property must be a whole number from ${min} to ${max}` }),
  );

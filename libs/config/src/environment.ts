import { Transform } from 'class-transformer';
import {
  ArrayNotEmpty,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MinLength,
  Min,
  ValidateIf,
} from 'class-validator';

export const CLOCK_MODES = ['system', 'exercise'] as const;
export type ClockMode = (typeof CLOCK_MODES)[number];

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const KAFKA_SASL_MECHANISMS = ['scram-sha-256', 'scram-sha-512', 'plain'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits). */
export const MIN_PRODUCTION_SECRET_LENGTH = 32;

const integer = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

const commaSeparated = ({ value }: { value: unknown }) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((broker) => broker.trim())
        .filter((broker) => broker.length > 0)
    : value;

/**
 * The environment variables of SPEC §8 as read at boot. Blank values count as unset
 * (`loadConfig` drops them first), so `DATABASE_URL=` in a compose file means "embedded store".
 * Property names are the variable names, so each problem is reported under its variable.
 */
export class Environment {
  @IsOptional()
  @Transform(integer)
  @IsInt({ message: 'must be an integer between 0 and 65535' })
  @Min(0, { message: 'must be an integer between 0 and 65535' })
  @Max(65535, { message: 'must be an integer between 0 and 65535' })
  PORT?: number;

  @IsOptional()
  @IsString()
  TRUCELINE_DATA_DIR?: string;

  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, {
    message: 'must be a postgres:// or postgresql:// connection URL',
  })
  DATABASE_URL?: string;

  @IsOptional()
  @Transform(commaSeparated)
  @ArrayNotEmpty({ message: 'must list at least one host:port' })
  @Matches(/^[^\s:,/]+:\d{1,5}$/, {
    each: true,
    message: 'must be a comma-separated list of host:port',
  })
  KAFKA_BROKERS?: string[];

  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.toLowerCase() : value,
  )
  @IsIn(KAFKA_SASL_MECHANISMS, { message: `must be one of: ${KAFKA_SASL_MECHANISMS.join(', ')}` })
  KAFKA_SASL_MECHANISM?: KafkaSaslMechanism;

  @IsOptional()
  @IsString()
  KAFKA_SASL_USERNAME?: string;

  @IsOptional()
  @IsString()
  KAFKA_SASL_PASSWORD?: string;

  @IsOptional()
  @IsString()
  KAFKA_SSL_CA_FILE?: string;

  @IsOptional()
  @IsString()
  KAFKA_SSL_CERT_FILE?: string;

  @IsOptional()
  @IsString()
  KAFKA_SSL_KEY_FILE?: string;

  @IsOptional()
  @IsString()
  @ValidateIf((env: Environment) => env.NODE_ENV === 'production')
  @MinLength(MIN_PRODUCTION_SECRET_LENGTH, {
    message: `must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters in production`,
  })
  TRUCELINE_JWT_SECRET?: string;

  /** The identity provider's JWKS (SPEC §6): RS256/ES256 tokens instead of the shared secret. */
  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'must be an http:// or https:// URL' },
  )
  TRUCELINE_JWKS_URL?: string;

  @IsOptional()
  @IsString()
  TRUCELINE_JWT_ISSUER?: string;

  @IsOptional()
  @IsString()
  TRUCELINE_JWT_AUDIENCE?: string;

  @IsOptional()
  @IsIn(CLOCK_MODES, { message: `must be one of: ${CLOCK_MODES.join(', ')}` })
  TRUCELINE_CLOCK?: ClockMode;

  @IsOptional()
  @IsISO8601(
    { strict: true, strictSeparator: true },
    { message: 'must be an ISO 8601 instant, e.g. 2025-06-01T08:00:00Z' },
  )
  @Matches(/T.*(Z|[+-]\d{2}:?\d{2})$/, {
    message: 'must carry a time and an offset, e.g. 2025-06-01T08:00:00Z',
  })
  TRUCELINE_CLOCK_START?: string;

  @IsOptional()
  @IsString()
  TRUCELINE_PARTNERS_FILE?: string;

  @IsOptional()
  @IsString()
  TRUCELINE_SIGNING_KEY?: string;

  @IsOptional()
  @IsString()
  NODE_ENV?: string;

  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `must be one of: ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: LogLevel;

  /** How long an Idempotency-Key is remembered (SPEC §8), in hours: 1 h to a year. */
  @IsOptional()
  @Transform(integer)
  @IsInt({ message: 'must be a whole number of hours between 1 and 8760' })
  @Min(1, { message: 'must be a whole number of hours between 1 and 8760' })
  @Max(8760, { message: 'must be a whole number of hours between 1 and 8760' })
  TRUCELINE_IDEMPOTENCY_TTL_HOURS?: number;

  /** Port of a service process's /metrics and /health/live; 0 picks a free one. */
  @IsOptional()
  @Transform(integer)
  @IsInt({ message: 'must be an integer between 0 and 65535' })
  @Min(0, { message: 'must be an integer between 0 and 65535' })
  @Max(65535, { message: 'must be an integer between 0 and 65535' })
  METRICS_PORT?: number;

  /** Names this instance in logs when several run side by side (default: the process id). */
  @IsOptional()
  @Matches(/^[A-Za-z0-9._-]{1,64}$/, {
    message: 'must be 1 to 64 letters, digits, dots, dashes or underscores',
  })
  TRUCELINE_SERVICE_INSTANCE?: string;
}

/** The variables `Environment` reads: everything else in the environment is ignored. */
export const VARIABLES = [
  'PORT',
  'TRUCELINE_DATA_DIR',
  'DATABASE_URL',
  'KAFKA_BROKERS',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'TRUCELINE_JWT_SECRET',
  'TRUCELINE_JWKS_URL',
  'TRUCELINE_JWT_ISSUER',
  'TRUCELINE_JWT_AUDIENCE',
  'TRUCELINE_CLOCK',
  'TRUCELINE_CLOCK_START',
  'TRUCELINE_PARTNERS_FILE',
  'TRUCELINE_SIGNING_KEY',
  'TRUCELINE_IDEMPOTENCY_TTL_HOURS',
  'NODE_ENV',
  'LOG_LEVEL',
  'METRICS_PORT',
  'TRUCELINE_SERVICE_INSTANCE',
] as const satisfies readonly (keyof Environment)[];

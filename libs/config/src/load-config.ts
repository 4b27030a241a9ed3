import { plainToInstance } from 'class-transformer';
import { validateSync, ValidationError } from 'class-validator';
import { existsSync } from 'node:fs';
import { isTrucelineOrigin, parseSigningKey, SigningKeyError } from '@truceline/ledger';
import { readOrCreateDevSecret, readOrCreateDevSigningKey } from './dev-secret';
import { ClockMode, Environment, KafkaSaslMechanism, LogLevel, VARIABLES } from './environment';

/** The validated configuration of one process (SPEC §8). Frozen: nothing changes it after boot. */
export interface TrucelineConfig {
  readonly port: number;
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly kafkaBrokers?: readonly string[];
  /** SASL and TLS towards the brokers (SPEC §8); absent: plaintext, unauthenticated. */
  readonly kafkaSecurity?: KafkaSecurity;
  /** The HS256 key; empty when tokens come from an identity provider and none was given. */
  readonly jwtSecret: string;
  /** True when no TRUCELINE_JWT_SECRET was given and the persisted development secret is used. */
  readonly jwtSecretGenerated: boolean;
  /**
   * Tokens of an identity provider (SPEC §6): when set, bearer tokens are RS256/ES256 checked
   * against this JWKS and the issuer and audience, and the shared secret signs nothing accepted.
   */
  readonly jwks?: JwksSettings;
  readonly clock: ClockMode;
  readonly clockStart?: string;
  readonly partnersFile?: string;
  /** TRUCELINE_SIGNING_KEY (a note signer key); unset: `signingKeyOf` uses the development key. */
  readonly signingKey?: string;
  readonly production: boolean;
  /** TRUCELINE_IDEMPOTENCY_TTL_HOURS: how long an Idempotency-Key is remembered (default 24). */
  readonly idempotencyTtlHours: number;
  readonly logLevel: LogLevel;
  /** A service process's metrics port (METRICS_PORT); each service has its own default. */
  readonly metricsPort?: number;
  /** TRUCELINE_SERVICE_INSTANCE: this instance's name in logs. */
  readonly serviceInstance?: string;
}

export interface KafkaSecurity {
  readonly sasl?: {
    readonly mechanism: KafkaSaslMechanism;
    readonly username: string;
    readonly password: string;
  };
  /** TLS is on when any of these is set; the CA alone is server-authenticated TLS. */
  readonly ssl?: {
    readonly caFile?: string;
    readonly certFile?: string;
    readonly keyFile?: string;
  };
}

export interface JwksSettings {
  readonly url: string;
  readonly issuer: string;
  readonly audience: string;
}

export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Every bad variable at once, so an operator fixes the environment in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid environment:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/**
 * Validates the environment once at boot (STYLE habit 8). Takes the environment as an argument:
 * apps pass `process.env`, tests pass plain objects. Throws ConfigError listing every bad
 * variable; values are never echoed, since some of them are secrets.
 */
export function loadConfig(env: Record<string, string | undefined>): TrucelineConfig {
  const variables = readVariables(env);
  const parsed = plainToInstance(Environment, variables);
  const problems = [
    ...validateSync(parsed, { forbidUnknownValues: true, stopAtFirstError: true }).flatMap(
      toProblems,
    ),
    ...crossChecks(parsed),
  ];
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = parsed.TRUCELINE_DATA_DIR ?? './data';
  // With an identity provider no token is checked against a shared secret: none is generated.
  const identityProvider = parsed.TRUCELINE_JWKS_URL !== undefined;
  const jwtSecret =
    parsed.TRUCELINE_JWT_SECRET ?? (identityProvider ? '' : readOrCreateDevSecret(dataDir));
  return Object.freeze({
    port: parsed.PORT ?? 3000,
    dataDir,
    databaseUrl: parsed.DATABASE_URL,
    kafkaBrokers: parsed.KAFKA_BROKERS && Object.freeze([...parsed.KAFKA_BROKERS]),
    kafkaSecurity: kafkaSecurityOf(parsed),
    jwtSecret,
    jwtSecretGenerated: parsed.TRUCELINE_JWT_SECRET === undefined && !identityProvider,
    jwks:
      parsed.TRUCELINE_JWKS_URL === undefined
        ? undefined
        : Object.freeze({
            url: parsed.TRUCELINE_JWKS_URL,
            issuer: parsed.TRUCELINE_JWT_ISSUER!,
            audience: parsed.TRUCELINE_JWT_AUDIENCE!,
          }),
    clock: parsed.TRUCELINE_CLOCK ?? 'system',
    clockStart: parsed.TRUCELINE_CLOCK_START
      ? new Date(parsed.TRUCELINE_CLOCK_START).toISOString()
      : undefined,
    partnersFile: parsed.TRUCELINE_PARTNERS_FILE,
    signingKey: parsed.TRUCELINE_SIGNING_KEY,
    production: parsed.NODE_ENV === 'production',
    idempotencyTtlHours: parsed.TRUCELINE_IDEMPOTENCY_TTL_HOURS ?? 24,
    logLevel: parsed.LOG_LEVEL ?? 'info',
    metricsPort: parsed.METRICS_PORT,
    serviceInstance: parsed.TRUCELINE_SERVICE_INSTANCE,
  });
}

function kafkaSecurityOf(env: Environment): KafkaSecurity | undefined {
  const sasl =
    env.KAFKA_SASL_MECHANISM === undefined
      ? undefined
      : Object.freeze({
          mechanism: env.KAFKA_SASL_MECHANISM,
          username: env.KAFKA_SASL_USERNAME!,
          password: env.KAFKA_SASL_PASSWORD!,
        });
  const files = {
    caFile: env.KAFKA_SSL_CA_FILE,
    certFile: env.KAFKA_SSL_CERT_FILE,
    keyFile: env.KAFKA_SSL_KEY_FILE,
  };
  const ssl = Object.values(files).some((file) => file !== undefined)
    ? Object.freeze(files)
    : undefined;
  return sasl || ssl ? Object.freeze({ sasl, ssl }) : undefined;
}

/** Only the variables of SPEC §8; blank values count as unset. */
function readVariables(env: Record<string, string | undefined>): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const name of VARIABLES) {
    const value = env[name]?.trim();
    if (value) variables[name] = value;
  }
  return variables;
}

/**
 * The key that signs log checkpoints: TRUCELINE_SIGNING_KEY, else the development key of the
 * data directory (created on first use, as the JWT secret is).
 */
export function signingKeyOf(config: TrucelineConfig): string {
  return config.signingKey ?? readOrCreateDevSigningKey(config.dataDir);
}

/** Why a TRUCELINE_SIGNING_KEY cannot sign Truceline checkpoints; null when it can. */
function signingKeyProblem(text: string): string | null {
  try {
    const signer = parseSigningKey(text);
    return isTrucelineOrigin(signer.name)
      ? null
      : `the key name must be the log's origin, truceline/<deployment> (got ${signer.name})`;
  } catch (error) {
    if (error instanceof SigningKeyError) return error.message;
    throw error;
  }
}

function toProblems(error: ValidationError): ConfigProblem[] {
  const [message] = Object.values(error.constraints ?? {});
  return message ? [{ variable: error.property, message }] : [];
}

/** Rules that involve more than one variable, or the filesystem. */
function crossChecks(env: Environment): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const jwks = env.TRUCELINE_JWKS_URL !== undefined;
  if (env.NODE_ENV === 'production' && env.TRUCELINE_JWT_SECRET === undefined && !jwks) {
    problems.push({
      variable: 'TRUCELINE_JWT_SECRET',
      message:
        'required when NODE_ENV=production unless TRUCELINE_JWKS_URL is set (a generated development secret is not used)',
    });
  }
  // An identity provider's token is only ours if it was issued for us, by the provider we trust.
  for (const variable of ['TRUCELINE_JWT_ISSUER', 'TRUCELINE_JWT_AUDIENCE'] as const) {
    if (jwks && env[variable] === undefined) {
      problems.push({ variable, message: 'required when TRUCELINE_JWKS_URL is set' });
    }
    if (!jwks && env[variable] !== undefined) {
      problems.push({ variable, message: 'only applies with TRUCELINE_JWKS_URL: set it as well' });
    }
  }
  if (env.TRUCELINE_CLOCK_START !== undefined && env.TRUCELINE_CLOCK !== 'exercise') {
    problems.push({
      variable: 'TRUCELINE_CLOCK_START',
      message: 'only applies to the exercise clock: set TRUCELINE_CLOCK=exercise as well',
    });
  }
  if (env.TRUCELINE_SIGNING_KEY !== undefined) {
    const problem = signingKeyProblem(env.TRUCELINE_SIGNING_KEY);
    if (problem) problems.push({ variable: 'TRUCELINE_SIGNING_KEY', message: problem });
  } else if (env.NODE_ENV === 'production') {
    problems.push({
      variable: 'TRUCELINE_SIGNING_KEY',
      message: 'required when NODE_ENV=production (a generated development key is not used)',
    });
  }
  problems.push(...kafkaSecurityProblems(env));
  if (env.TRUCELINE_PARTNERS_FILE !== undefined && !existsSync(env.TRUCELINE_PARTNERS_FILE)) {
    problems.push({ variable: 'TRUCELINE_PARTNERS_FILE', message: 'file not found' });
  }
  return problems;
}

/** SASL needs all three settings; a client certificate needs its key; every file must exist. */
function kafkaSecurityProblems(env: Environment): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const sasl = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const;
  const saslGiven = sasl.filter((variable) => env[variable] !== undefined);
  if (saslGiven.length > 0) {
    for (const variable of sasl) {
      if (env[variable] === undefined) {
        problems.push({ variable, message: `required with ${saslGiven.join(' and ')}` });
      }
    }
  }
  if ((env.KAFKA_SSL_CERT_FILE === undefined) !== (env.KAFKA_SSL_KEY_FILE === undefined)) {
    const missing =
      env.KAFKA_SSL_CERT_FILE === undefined ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE';
    problems.push({
      variable: missing,
      message: 'a client certificate and its key go together: set both or neither',
    });
  }
  for (const variable of [
    'KAFKA_SSL_CA_FILE',
    'KAFKA_SSL_CERT_FILE',
    'KAFKA_SSL_KEY_FILE',
  ] as const) {
    const file = env[variable];
    if (file !== undefined && !existsSync(file))
      problems.push({ variable, message: 'file not found' });
  }
  const anyGiven = [
    ...sasl,
    'KAFKA_SSL_CA_FILE',
    'KAFKA_SSL_CERT_FILE',
    'KAFKA_SSL_KEY_FILE',
  ] as const;
  if (env.KAFKA_BROKERS === undefined) {
    for (const variable of anyGiven) {
      if (env[variable] !== undefined) {
        problems.push({ variable, message: 'only applies with KAFKA_BROKERS: set it as well' });
      }
    }
  }
  return problems;
}

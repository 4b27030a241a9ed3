export {
  CLOCK_MODES,
  KAFKA_SASL_MECHANISMS,
  LOG_LEVELS,
  MIN_PRODUCTION_SECRET_LENGTH,
} from './environment';
export type { ClockMode, KafkaSaslMechanism, LogLevel } from './environment';
export { loadConfig, ConfigError, signingKeyOf } from './load-config';
export type { TrucelineConfig, ConfigProblem, JwksSettings, KafkaSecurity } from './load-config';
export { devSecretPath, devSigningKeyPath } from './dev-secret';
export { signToken, ROLES_WITH_PARTNER } from './sign-token';
export type { TokenClaims } from './sign-token';
export {
  loadPartners,
  parsePartners,
  PartnersFileError,
  DEFAULT_WARNING_CHANNEL,
  WEBHOOK_SECRET_PATTERN,
  MIN_WEBHOOK_KEY_BYTES,
  MAX_WEBHOOK_KEY_BYTES,
  MAX_WEBHOOK_SECRETS,
} from './partners';
export type {
  PartnerDirectory,
  PartnerWebhook,
  PartnersProblem,
  WarningChannelSetting,
} from './partners';
export {
  parsePolicyDocument,
  PolicyDocumentInput,
  RosterEntryInput,
  RepeatedViolationInput,
  MAX_WINDOW_HOURS,
  MAX_ROSTER,
} from './policy-document';

export { CLOCK_MODES, LOG_LEVELS, MIN_PRODUCTION_SECRET_LENGTH } from './environment';
export type { ClockMode, LogLevel } from './environment';
export { loadConfig, ConfigError } from './load-config';
export type { TrucelineConfig, ConfigProblem } from './load-config';
export { devSecretPath } from './dev-secret';
export { signToken, ROLES_WITH_PARTNER } from './sign-token';
export type { TokenClaims } from './sign-token';

import { devSecretPath } from '@truceline/config';
import { readFileSync } from 'node:fs';
import { UsageError } from './args';

/** The variables of SPEC §8 the CLI reads: where the API and the store are, and the keys. */
export interface CliEnvironment {
  PORT?: string;
  TRUCELINE_JWT_SECRET?: string;
  TRUCELINE_DATA_DIR?: string;
  /** verify and export read the store directly. */
  DATABASE_URL?: string;
  TRUCELINE_SIGNING_KEY?: string;
}

/** The CLI could not find what it needs; exit code 1, with the message saying what to do. */
export class CliError extends Error {
  override name = 'CliError';
}

/** `--url`, else the API of this machine on PORT (default 3000). */
export function apiBaseUrl(url: string | undefined, env: CliEnvironment): string {
  if (url !== undefined) {
    if (!/^https?:\/\/[^\s/]+/.test(url))
      throw new UsageError(`--url must be an http(s) URL: ${url}`);
    return url.replace(/\/+$/, '');
  }
  const port = env.PORT?.trim() || '3000';
  if (!/^\d{1,5}$/.test(port)) throw new CliError(`PORT must be an integer between 0 and 65535`);
  return `http://127.0.0.1:${port}`;
}

/**
 * The key the API verifies tokens with: `--secret`, else TRUCELINE_JWT_SECRET, else the
 * development secret a local instance persisted in its data directory. Only read here, never
 * created: a new secret would sign tokens no running instance accepts.
 */
export function jwtSecret(
  secret: string | undefined,
  env: CliEnvironment,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): string {
  if (secret !== undefined && secret !== '') return secret;
  const fromEnv = env.TRUCELINE_JWT_SECRET?.trim();
  if (fromEnv) return fromEnv;
  const path = devSecretPath(env.TRUCELINE_DATA_DIR?.trim() || './data');
  let devSecret = '';
  try {
    devSecret = readFile(path).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (devSecret) return devSecret;
  throw new CliError(
    `no JWT secret: pass --secret, set TRUCELINE_JWT_SECRET to the API's, or point ` +
      `TRUCELINE_DATA_DIR at the data directory of a development instance (no ${path} found; ` +
      'the API creates it on first start when TRUCELINE_JWT_SECRET is unset)',
  );
}

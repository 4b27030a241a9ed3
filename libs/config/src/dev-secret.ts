import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateSigningKey } from '@truceline/ledger';

const DEV_SECRET_FILE = '.dev-jwt-secret';
const DEV_SIGNING_KEY_FILE = '.dev-signing-key';

/** Where a development instance keeps its generated JWT secret. */
export const devSecretPath = (dataDir: string): string => join(dataDir, DEV_SECRET_FILE);

/**
 * The development JWT secret of the instance whose data lives in `dataDir`: read from
 * `<dataDir>/.dev-jwt-secret`, created on first start (32 random bytes, base64url, mode 0600).
 * Persisting it keeps tokens valid across restarts and lets the CLI sign tokens that this
 * instance accepts. Never used in production (`loadConfig` refuses to start there without one).
 */
export function readOrCreateDevSecret(dataDir: string): string {
  return readOrCreate(devSecretPath(dataDir), () => randomBytes(32).toString('base64url'));
}

/** Where a development instance keeps its generated checkpoint signing key. */
export const devSigningKeyPath = (dataDir: string): string => join(dataDir, DEV_SIGNING_KEY_FILE);

/**
 * The development Ed25519 key that signs log checkpoints (SPEC §10), kept beside the JWT
 * secret: `<dataDir>/.dev-signing-key`, created on first use under the origin
 * `truceline/dev-<random>` so two development instances never pass for one log.
 */
export function readOrCreateDevSigningKey(dataDir: string): string {
  return readOrCreate(devSigningKeyPath(dataDir), () =>
    generateSigningKey(`truceline/dev-${randomBytes(4).toString('hex')}`),
  );
}

/** The content of `path`, or `create()`'s written there (mode 0600) when there is none. */
function readOrCreate(path: string, create: () => string): string {
  const existing = readIfPresent(path);
  if (existing) return existing;
  mkdirSync(dirname(path), { recursive: true });
  const secret = create();
  try {
    if (existing === '') {
      // An empty file (e.g. an interrupted first start) is replaced, and made private again.
      writeFileSync(path, `${secret}\n`, { mode: 0o600 });
      chmodSync(path, 0o600);
    } else {
      writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    }
    return secret;
  } catch (error) {
    // 'wx' fails when another process created the file in the meantime: use theirs.
    const raced = (error as NodeJS.ErrnoException).code === 'EEXIST' ? readIfPresent(path) : null;
    if (raced) return raced;
    throw error;
  }
}

/** The trimmed content, '' for an empty file, null when the file does not exist. */
function readIfPresent(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

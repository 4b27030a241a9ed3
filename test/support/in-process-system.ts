import { loadConfig } from '@truceline/config';
import { createRuntime, EmbeddedRuntime } from '@truceline/workflows';
import { mkdtempSync, rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../apps/api/src/app';
import type { ApiOptions } from '../../apps/api/src/app.module';

export interface InProcessSystem {
  baseUrl: string;
  jwtSecret: string;
  runtime: EmbeddedRuntime;
  close(): Promise<void>;
}

export interface InProcessOptions {
  /** PostgreSQL to use instead of the embedded store (PGlite in a temporary data dir). */
  databaseUrl?: string;
  /** Where the exercise clock starts (TRUCELINE_CLOCK_START). */
  clockStart?: string;
  /** `system` runs without the exercise clock (no TRUCELINE_CLOCK); exercise by default. */
  clock?: 'exercise' | 'system';
  /**
   * The embedded store's data dir, owned by the caller: it is kept on close, so a second system
   * started on it restarts on the same data. By default a temporary dir removed on close.
   */
  dataDir?: string;
  /** More variables of SPEC §8 (e.g. TRUCELINE_JWKS_URL), as an operator would set them. */
  env?: Record<string, string>;
  /** What the API takes besides the configuration (e.g. how fast the JWKS may be refetched). */
  api?: ApiOptions;
}

const JWT_SECRET = 'e2e-scenarios-secret-of-at-least-32-characters';

/**
 * The whole embedded system in this process — store, projection, services, scheduler and the
 * real HTTP edge on a free port — in exercise mode, as `npm start` runs it.
 */
export async function startInProcessSystem(
  options: InProcessOptions = {},
): Promise<InProcessSystem> {
  const exercise = (options.clock ?? 'exercise') === 'exercise';
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'truceline-e2e-'));
  const config = loadConfig({
    TRUCELINE_CLOCK: exercise ? 'exercise' : undefined,
    TRUCELINE_CLOCK_START: exercise ? options.clockStart : undefined,
    TRUCELINE_DATA_DIR: dataDir,
    TRUCELINE_JWT_SECRET: JWT_SECRET,
    DATABASE_URL: options.databaseUrl,
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...options.env,
  });
  const cleanUp = () => {
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  };
  let runtime: EmbeddedRuntime | undefined;
  try {
    runtime = await createRuntime(config, {
      logger: { log: () => undefined, error: (message, error) => console.error(message, error) },
    });
    const app = await createApp(runtime, config, options.api);
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const started = runtime;
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      jwtSecret: JWT_SECRET,
      runtime: started,
      close: async () => {
        await app.close();
        await closeRuntime(started);
        cleanUp();
      },
    };
  } catch (error) {
    if (runtime) await closeRuntime(runtime);
    cleanUp();
    throw error;
  }
}

async function closeRuntime(runtime: EmbeddedRuntime): Promise<void> {
  await runtime.close();
}

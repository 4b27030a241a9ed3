import 'reflect-metadata';
import { loadConfig } from '@truceline/config';
import { createRuntime } from '@truceline/workflows';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from './app';

/** Where the committed copy of the served OpenAPI document lives. */
export const OPENAPI_FILE = 'docs/openapi.json';

/** The document as committed: stable key order as served, two-space indent, final newline. */
export const serializeOpenApi = (document: unknown): string =>
  `${JSON.stringify(document, null, 2)}\n`;

/**
 * `npm run openapi`: serves the API once (exercise mode, so that every route of SPEC §6 is
 * there, the exercise clock included) on a throwaway embedded store, and writes its
 * `/docs-json` to docs/openapi.json. A test fails when the two differ.
 */
async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'truceline-openapi-'));
  try {
    const config = loadConfig({
      TRUCELINE_CLOCK: 'exercise',
      TRUCELINE_CLOCK_START: '2026-01-01T00:00:00Z',
      TRUCELINE_DATA_DIR: dir,
      TRUCELINE_JWT_SECRET: 'openapi-document-generation-only-secret',
      LOG_LEVEL: 'error',
    });
    const runtime = await createRuntime(config, {
      logger: { log: () => undefined, error: (message, error) => console.error(message, error) },
    });
    const app = await createApp(runtime, config);
    try {
      await app.listen(0, '127.0.0.1');
      const { port } = app.getHttpServer().address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/docs-json`);
      writeFileSync(process.argv[2] ?? OPENAPI_FILE, serializeOpenApi(await response.json()));
    } finally {
      await app.close();
      await runtime.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

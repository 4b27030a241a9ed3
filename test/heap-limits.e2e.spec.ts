import { signToken } from '@truceline/config';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiProcess, ensureBuilt } from './support/api-process';
import { freePort } from './support/free-port';

/**
 * The embedded API's young generation stays within the cap `heap-limits.ts` sets (two
 * semi-spaces of 8 MB), under a stream of reports. The cap is held through V8's semi-space
 * growth factor, one flag for the whole process that V8 raises again whenever it creates an
 * isolate: it did not hold on PostgreSQL, where the API starts worker threads, and would break
 * the same way here if the embedded API started one. Without the cap the same run ends at
 * V8's own 2 × 16 MB (checked with the cap taken out of the built module).
 */
const JWT_SECRET = 'heap-limits-e2e-secret-of-32-characters';
const CAP_BYTES = 2 * 8 * 2 ** 20;
const REPORTS = 3_000;
const CONCURRENCY = 32;

/** Preloaded into the API: the largest `new_space` seen, sampled every 10 ms, written to a file. */
const PROBE = `
const { getHeapSpaceStatistics } = require('node:v8');
const { writeFileSync } = require('node:fs');
let largest = 0;
setInterval(() => {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  if (space.space_size > largest) {
    largest = space.space_size;
    writeFileSync(process.env.HEAP_PROBE_FILE, String(largest));
  }
}, 10).unref();
`;

describe('the embedded API heap', () => {
  const dir = mkdtempSync(join(tmpdir(), 'truceline-heap-'));
  const probe = join(dir, 'probe.js');
  const largestFile = join(dir, 'largest');
  let api: ApiProcess | undefined;

  beforeAll(() => {
    ensureBuilt();
    writeFileSync(probe, PROBE);
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its young generation within 2 × 8 MB under a stream of reports', async () => {
    const server = new ApiProcess({
      PORT: String(await freePort()),
      TRUCELINE_CLOCK: 'exercise', // what waitUntilServing asks for
      TRUCELINE_DATA_DIR: join(dir, 'data'),
      TRUCELINE_JWT_SECRET: JWT_SECRET,
      LOG_LEVEL: 'warn',
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${probe}`.trim(),
      HEAP_PROBE_FILE: largestFile,
    });
    api = server;
    server.start();
    await server.waitUntilServing();

    const headers = {
      'content-type': 'application/json',
      authorization: `Bearer ${signToken(JWT_SECRET, { role: 'operator', sub: 'heap-e2e' })}`,
    };
    let next = 0;
    const statuses = new Map<number, number>();
    const reporter = async () => {
      while (next < REPORTS) {
        const n = next++;
        const response = await fetch(`${server.baseUrl}/v1/incidents`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            location: { sector: `H-${n % 997}`, frontlineKm: 512.5, lat: 47.6, lon: 35.9 },
            category: 'artillery',
            severity: 'major',
            source: { kind: 'sensor', id: `sensor-${n % 1400}` },
            summary: 'Shelling near the line of contact',
          }),
        });
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, reporter));
    await new Promise((resolve) => setTimeout(resolve, 100)); // one more sample

    expect(Object.fromEntries(statuses)).toEqual({ 201: REPORTS });
    const largest = Number(readFileSync(largestFile, 'utf8'));
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(CAP_BYTES);
  }, 180_000);
});

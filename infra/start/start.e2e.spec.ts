import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBuilt } from '../../test/support/api-process';
import { REPO_ROOT } from '../../test/support/shared-scenarios';
import { planStart } from './start-plan';

/**
 * `npm start` tells the truth about distributed mode: with KAFKA_BROKERS it runs every process
 * (given a PostgreSQL to share) or refuses, saying what to run — never the API alone, which
 * would relay nothing and run no service.
 */
describe('npm start', () => {
  it('plans the embedded system, every process, or a refusal', () => {
    expect(planStart({})).toEqual({ kind: 'embedded' });
    expect(planStart({ KAFKA_BROKERS: ' ' })).toEqual({ kind: 'embedded' });
    expect(
      planStart({ KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://db/truceline' }),
    ).toEqual({ kind: 'distributed' });
    expect(planStart({ KAFKA_BROKERS: '127.0.0.1:9092' })).toMatchObject({ kind: 'refuse' });
  });

  it('refuses KAFKA_BROKERS without DATABASE_URL, saying what to run, before opening anything', () => {
    ensureBuilt();
    const script = (
      JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts.start;
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(DATABASE_URL|TRUCELINE_.*)$/.test(name)),
    );
    const run = spawnSync('sh', ['-c', script], {
      cwd: REPO_ROOT,
      env: { ...env, KAFKA_BROKERS: '127.0.0.1:9', PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: run.status, stderr: run.stderr }).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('DATABASE_URL is not set'),
    });
    expect(run.stderr).toContain('npm run start:distributed');
  }, 60_000);
});

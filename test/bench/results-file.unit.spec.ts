import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRunResults } from './results-file';

describe(writeRunResults.name, () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-results-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("writes the day's run as <date>.json", async () => {
    const file = await writeRunResults(dir, new Date('2026-12-04T19:46:08Z'), '{"run":1}\n');
    expect(file).toBe(join(dir, '2026-12-04.json'));
    expect(await readFile(file, 'utf8')).toBe('{"run":1}\n');
  });

  it('keeps an earlier run of the same day under the time it was written', async () => {
    const today = join(dir, '2026-12-04.json');
    await writeFile(today, '{"run":1}\n');
    await utimes(today, new Date('2026-12-04T18:48:21Z'), new Date('2026-12-04T18:48:21Z'));
    await writeRunResults(dir, new Date('2026-12-04T20:05:00Z'), '{"run":2}\n');
    expect((await readdir(dir)).sort()).toEqual(['2026-12-04.json', '2026-12-04T184821Z.json']);
    expect(await readFile(join(dir, '2026-12-04T184821Z.json'), 'utf8')).toBe('{"run":1}\n');
    expect(await readFile(today, 'utf8')).toBe('{"run":2}\n');
  });
});

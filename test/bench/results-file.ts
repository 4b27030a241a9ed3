import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes a run's results as `<dir>/<date>.json`, the day's latest run. A run written earlier
 * that day is not overwritten: it moves aside to `<date>T<hhmmss>Z.json`, named by when it was
 * written, so that a day's runs can still be compared once the next has ended.
 */
export async function writeRunResults(dir: string, at: Date, json: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${at.toISOString().slice(0, 10)}.json`);
  const earlier = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (earlier) {
    const written = earlier.mtime.toISOString();
    const time = written.slice(11, 19).replaceAll(':', '');
    await rename(file, join(dir, `${written.slice(0, 10)}T${time}Z.json`));
  }
  await writeFile(file, json);
  return file;
}

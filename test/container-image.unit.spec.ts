import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MALLOC_TUNABLES } from '../infra/start/malloc-tunables';

/**
 * No container engine runs where the tests run, so the image is checked as files: the
 * Dockerfile, .dockerignore and docker-compose.yml must agree with package.json and the
 * sources, and keep the rules of a production image (multi-stage, production dependencies
 * only, non-root, a health check on /health/ready).
 */
const ROOT = join(__dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const dockerfile = read('Dockerfile');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));
const stages = instructions.reduce<string[][]>((all, line) => {
  if (/^FROM\s/i.test(line)) all.push([line]);
  else all.at(-1)?.push(line);
  return all;
}, []);
const runtime = stages.at(-1) ?? [];
const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  engines: { node: string };
};
/** `node dist/<x>.js` → the source file it is built from. */
const sourceOf = (built: string) => built.replace(/^dist\//, '').replace(/\.js$/, '.ts');

describe('the container image', () => {
  it('is built in stages, the last without the build toolchain', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.join('\n')).not.toMatch(/npm (ci|install)(?![^\n]*--omit=dev)/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(runtime.some((line) => /^COPY --from=dependencies .*node_modules/.test(line))).toBe(
      true,
    );
  });

  it('runs as a user other than root', () => {
    const user = runtime.filter((line) => /^USER\s/i.test(line)).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER\s+(root|0)(:|$)/i);
  });

  it('checks its health on /health/ready of the port it exposes', () => {
    const check = runtime.find((line) => /^HEALTHCHECK\s/i.test(line)) ?? '';
    expect(check).toMatch(/\/health\/ready/);
    expect(check).toMatch(/process\.env\.PORT \|\| 3000/);
    expect(runtime).toContain('EXPOSE 3000');
  });

  it('starts what `npm start` starts, built from a source that exists', () => {
    const cmd = /^CMD\s+(\[.*\])$/.exec(runtime.find((line) => /^CMD\s/.test(line)) ?? '')?.[1];
    const [binary, entry] = JSON.parse(cmd ?? '[]') as string[];
    expect(binary).toBe('node');
    // `npm start` goes through infra/start/start.ts, which runs this same API entry when
    // KAFKA_BROKERS is unset (and every process of distributed mode when it is set); the image
    // is one process, the others run in containers of their own (docker-compose.yml).
    expect(pkg.scripts.start).toBe(
      `GLIBC_TUNABLES=${MALLOC_TUNABLES} node dist/infra/start/start.js`,
    );
    const launcher = read('infra/start/start.ts');
    expect(launcher).toContain(
      `import('../../${entry.replace(/^dist\//, '').replace(/\.js$/, '')}')`,
    );
    expect(existsSync(join(ROOT, sourceOf(entry)))).toBe(true);
  });

  it('starts node with the allocator settings `npm start` and the tests use', () => {
    const env = runtime.filter((line) => /^ENV\s/.test(line)).join(' ');
    expect(env).toContain(`GLIBC_TUNABLES=${MALLOC_TUNABLES}`);
    expect(pkg.scripts['start:exercise']).toContain(`GLIBC_TUNABLES=${MALLOC_TUNABLES} node `);
  });

  it('runs on the Node.js major that .nvmrc names, one engines allows', () => {
    const major = read('.nvmrc').trim();
    expect(dockerfile).toMatch(new RegExp(`node:${major}-`));
    expect(pkg.engines.node).toMatch(new RegExp(`\\^${major}\\.`));
    expect(pkg.engines.node).toMatch(/\^20\./);
  });

  it('leaves local state out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    for (const path of ['.git', 'node_modules', 'dist', 'data']) expect(ignored).toContain(path);
  });

  it('is what docker-compose runs: built, not the source tree mounted, every command an app', () => {
    const compose = read('docker-compose.yml');
    expect(compose).toMatch(/^\s+build: \.$/m);
    expect(compose).not.toMatch(/- \.:\/app/);
    const commands = [...compose.matchAll(/command: \['node', '([^']+)'(?:, '[\w-]+')*\]/g)].map(
      (m) => m[1],
    );
    expect(commands.length).toBe(6);
    for (const entry of commands) expect(existsSync(join(ROOT, sourceOf(entry)))).toBe(true);
  });
});

import { dirname, extname, join } from 'node:path';
import { Worker, WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread running `entry`, a module beside `callerFile` named without its
 * extension, the way the caller itself runs. Compiled (dist), that is the `.js` file. Run from
 * the TypeScript sources (jest compiles them in memory, which a new thread does not inherit),
 * the thread first teaches its require to compile `.ts` files with the project's swc settings
 * (`.swcrc`, whose paths resolve the `@truceline/*` libraries), so it never runs an older build.
 * swc is a development dependency, there whenever the sources are run.
 */
export function startModuleThread(
  callerFile: string,
  entry: string,
  options: Omit<WorkerOptions, 'eval'> = {},
): Worker {
  const extension = extname(callerFile);
  const file = join(dirname(callerFile), `${entry}${extension}`);
  if (extension !== '.ts') return new Worker(file, options);
  return new Worker(fromSources(file), { ...options, eval: true });
}

function fromSources(file: string): string {
  return `
const { existsSync, readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const file = ${JSON.stringify(file)};
const { transformSync } = require('node:module').createRequire(file)('@swc/core');
let root = dirname(file);
while (!existsSync(join(root, '.swcrc'))) {
  if (dirname(root) === root) throw new Error('no .swcrc above ' + file);
  root = dirname(root);
}
const options = JSON.parse(readFileSync(join(root, '.swcrc'), 'utf8'));
options.jsc.baseUrl = root;
options.sourceMaps = 'inline';
require.extensions['.ts'] = (module, filename) =>
  module._compile(
    transformSync(readFileSync(filename, 'utf8'), { ...options, filename, swcrc: false }).code,
    filename,
  );
require(file);`;
}

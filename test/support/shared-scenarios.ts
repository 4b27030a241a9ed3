import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The repository's root; `shared/` (the spec and its scenarios) sits beside it. Found from
 * test/support, or from dist/test/support when run built (the benchmark).
 */
export const REPO_ROOT = [resolve(__dirname, '../..'), resolve(__dirname, '../../..')].find((dir) =>
  existsSync(join(dir, 'package.json')),
) as string;
/**
 * The built tree whose processes a test or bench starts (the API, the relay, the services): when
 * this file runs built, the tree it runs from, so that a copy of a build (`node
 * dist.A/test/bench/http.main.js`, an A/B pair's older side) starts its own API and not whatever
 * dist/ holds now; from the sources (jest), the repository's dist/.
 */
export const BUILT_ROOT = existsSync(join(resolve(__dirname, '../..'), 'package.json'))
  ? join(REPO_ROOT, 'dist')
  : resolve(__dirname, '../..');
export const SHARED_SCENARIOS_DIR = resolve(REPO_ROOT, '../shared/scenarios');

/**
 * The scenario files the product is accepted against, in name order. Missing files fail the
 * run loudly: an empty list would make every scenario test pass by running nothing.
 */
export function sharedScenarioFiles(): string[] {
  if (!existsSync(SHARED_SCENARIOS_DIR)) {
    throw new Error(
      `the shared scenarios are missing: expected them in ${SHARED_SCENARIOS_DIR} ` +
        '(the folder shared/scenarios beside the repository)',
    );
  }
  const files = readdirSync(SHARED_SCENARIOS_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => join(SHARED_SCENARIOS_DIR, file));
  if (files.length === 0) throw new Error(`no scenario files (*.json) in ${SHARED_SCENARIOS_DIR}`);
  return files;
}

export const sharedScenarioFile = (name: string): string => {
  const file = sharedScenarioFiles().find((f) => f.endsWith(`/${name}.json`));
  if (!file) throw new Error(`no shared scenario ${name}.json in ${SHARED_SCENARIOS_DIR}`);
  return file;
};

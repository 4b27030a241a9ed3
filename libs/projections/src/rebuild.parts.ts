import { startModuleThread } from '@truceline/event-store';
import { Worker } from 'node:worker_threads';
import type { AdoptedPolicy } from './policy.registry';

/** What a part of a split load is handed (structured-cloned once, at its start). */
export interface PartData {
  databaseUrl: string;
  projection: string;
  /** The schema loaded, and the live one behind it in the search path. */
  schema: string;
  live: string;
  index: number;
  count: number;
  /** The last position loaded: the log is final up to there (settledPosition). */
  through: number;
  /** Positions covered by one read of a part. */
  span: number;
  /** The tables held no row before the load. */
  empty: boolean;
  policies: AdoptedPolicy[];
}

/** What a part tells its parent: events loaded (its own share), then done or failed. */
export type PartMessage =
  | { kind: 'events'; count: number }
  | { kind: 'done' }
  | { kind: 'failed'; message: string; stack?: string; code?: unknown };

/**
 * Loads the log up to `through` in `count` parts at once, each in a worker thread of its own
 * that reads its streams' events from the server on its own connections, folds them and writes
 * its rows (rebuild-part.worker): nothing goes between the threads but counts. Resolves when
 * every part has written everything and its thread has ended; when one fails, the others are
 * stopped (their transactions roll back as their connections close) and the first failure is
 * thrown, the caller dropping what was loaded.
 */
export async function loadInParts(
  part: Omit<PartData, 'index'>,
  onEvents: (count: number) => void,
): Promise<number> {
  const workers: Worker[] = [];
  const runs = Array.from({ length: part.count }, (_, index) =>
    runPart({ ...part, index }, workers, onEvents),
  );
  try {
    await Promise.all(runs);
  } catch (error) {
    await Promise.all(workers.map((worker) => worker.terminate()));
    await Promise.allSettled(runs);
    throw error;
  }
  return part.through;
}

function runPart(
  data: PartData,
  workers: Worker[],
  onEvents: (count: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = startModuleThread(__filename, 'rebuild-part.worker', {
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    workers.push(worker);
    let failure: unknown = null;
    let done = false;
    worker.on('message', (message: PartMessage) => {
      if (message.kind === 'events') onEvents(message.count);
      else if (message.kind === 'done') done = true;
      else failure ??= errorOf(message);
    });
    worker.on('error', (error) => (failure ??= error));
    worker.on('exit', (code) => {
      if (failure) reject(failure);
      else if (done) resolve();
      else reject(new Error(`part ${data.index + 1} of ${data.count} stopped (exit code ${code})`));
    });
  });
}

function errorOf(message: Extract<PartMessage, { kind: 'failed' }>): Error {
  const error = new Error(message.message) as Error & { code?: unknown };
  if (message.stack) error.stack = message.stack;
  if (message.code !== undefined) error.code = message.code;
  return error;
}

/** Young generation of a part's thread: most of what a fold allocates dies young there. */
const YOUNG_GENERATION_MB = 64;

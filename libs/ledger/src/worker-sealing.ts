import { startModuleThread } from '@truceline/event-store';
import { Worker } from 'node:worker_threads';
import { CompactRange } from './merkle/compact-range';
import { HashedRun, SealingWork } from './sealing-work';

/** What the sealing thread is started with. */
export interface SealingThreadData {
  databaseUrl: string;
}

export type ToSealingThread =
  | { kind: 'next'; id: number; after: number; size: number; range: Uint8Array; limit: number }
  | { kind: 'close' };

export type FromSealingThread =
  | { kind: 'ready'; threadId: number | null; nice: number | null }
  | { kind: 'failed'; message: string }
  | {
      kind: 'run';
      id: number;
      run: { positions: number[]; hashes: string; size: number; range: Uint8Array } | null;
    }
  | { kind: 'error'; id: number; message: string };

/** How long a closing thread may take to end its connection before it is terminated. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Sealing's reading and hashing on a thread of its own (PostgreSQL): a worker thread with its
 * own connection, at the lowest CPU priority (nice 19, which on Linux belongs to the thread).
 * Its CPU — reading the rows back, canonical JSON, SHA-256, the tree — then goes to whatever
 * the appends leave: under a load that takes every core it falls behind, and it catches up once
 * the load drops. The appends' thread only passes positions and hashes on.
 */
export class WorkerSealing implements SealingWork {
  private readonly pending = new Map<
    number,
    { resolve(run: HashedRun | null): void; reject(error: Error): void }
  >();
  private nextId = 0;
  private exited?: Error;
  private readonly exit: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    /** The OS id of the sealing thread (Linux), to read its CPU time and priority. */
    readonly threadId: number | null,
    /** Its nice value as the kernel reports it (19 when lowering it was permitted). */
    readonly nice: number | null,
  ) {
    this.exit = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromSealingThread) => this.answer(message));
    const fail = (error: Error) => {
      this.exited ??= error;
      for (const request of this.pending.values()) request.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the sealing thread exited (code ${code})`)));
    // A process that forgets to stop its sealer is not kept alive by it.
    worker.unref();
  }

  /** Starts the thread; resolves once its connection is open. */
  static start(databaseUrl: string): Promise<WorkerSealing> {
    const workerData: SealingThreadData = { databaseUrl };
    // The thread runs sealing-worker beside this file, as this file runs.
    const worker = startModuleThread(__filename, 'sealing-worker', { workerData });
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => {
        settle();
        reject(error);
      };
      const exited = (code: number) =>
        failed(new Error(`the sealing thread exited (code ${code})`));
      const settle = () => {
        worker.off('error', failed).off('exit', exited).off('message', answered);
      };
      const answered = (message: FromSealingThread) => {
        settle();
        if (message.kind === 'ready') {
          resolve(new WorkerSealing(worker, message.threadId, message.nice));
        } else {
          void worker.terminate();
          reject(new Error(`the sealing thread could not start: ${describe(message)}`));
        }
      };
      worker.on('error', failed).on('exit', exited).on('message', answered);
    });
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  next(after: number, range: CompactRange, limit: number): Promise<HashedRun | null> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    const bytes = range.serialize();
    const message: ToSealingThread = {
      kind: 'next',
      id,
      after,
      size: range.size,
      range: new Uint8Array(bytes),
      limit,
    };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message);
    });
  }

  /** Ends the thread's connection and the thread (terminated if it takes too long). */
  async close(): Promise<void> {
    if (this.alive) this.worker.postMessage({ kind: 'close' } satisfies ToSealingThread);
    const grace = new Promise<'late'>((resolve) => {
      const timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
      void this.exit.then(() => clearTimeout(timer));
    });
    if ((await Promise.race([this.exit, grace])) === 'late') await this.worker.terminate();
    await this.exit;
  }

  private answer(message: FromSealingThread): void {
    if (message.kind !== 'run' && message.kind !== 'error') return;
    const request = this.pending.get(message.id);
    if (!request) return;
    this.pending.delete(message.id);
    if (message.kind === 'error') return request.reject(new Error(message.message));
    const { run } = message;
    if (!run) return request.resolve(null);
    request.resolve({
      positions: run.positions,
      hashes: run.hashes,
      range: CompactRange.restore(run.size, Buffer.from(run.range)),
    });
  }
}

const describe = (message: FromSealingThread): string =>
  message.kind === 'failed' ? message.message : message.kind;

import { readFileSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase, SqlEventStore } from '@truceline/event-store';
import { CompactRange } from './merkle/compact-range';
import { ReadAndHash } from './sealing-work';
import type { FromSealingThread, ToSealingThread, SealingThreadData } from './worker-sealing';

/**
 * The sealing thread (see WorkerSealing): reads committed events through a connection of its
 * own and hashes them, at the lowest CPU priority, so that the appends of its process and the
 * database's backends always come first. It writes nothing: the sealer stores what it answers.
 */
async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('the sealing thread runs as a worker thread');
  const { databaseUrl } = workerData as SealingThreadData;
  const post = (message: FromSealingThread, transfer?: ArrayBuffer[]) =>
    port.postMessage(message, transfer);
  // On Linux a nice value belongs to a thread: pid 0 is this thread, not the process.
  try {
    setPriority(19);
  } catch {
    // Not permitted here: the thread still runs, beside the appends rather than behind them.
  }
  let sql: Awaited<ReturnType<typeof openDatabase>>;
  try {
    sql = await openDatabase({ databaseUrl, poolSize: 1 });
  } catch (error) {
    post({ kind: 'failed', message: messageOf(error) });
    return;
  }
  // No slices: nothing else waits on this thread's event loop. Data and metadata come as JSON
  // text, parsed an event at a time as it is hashed (see ReadAndHash).
  const store = new SqlEventStore(sql);
  const work = new ReadAndHash(
    { readAllJsonText: (options) => store.readAllJsonText(options) },
    { yieldEvery: undefined },
  );
  port.on('message', (message: ToSealingThread) => {
    if (message.kind === 'close') {
      port.removeAllListeners('message');
      void sql.close().finally(() => port.close());
      return;
    }
    const { id, after, size, range, limit } = message;
    work.next(after, CompactRange.restore(size, Buffer.from(range)), limit).then(
      (run) => {
        if (!run) return post({ kind: 'run', id, run: null });
        const bytes = run.range.serialize();
        const grown = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length).slice();
        post(
          {
            kind: 'run',
            id,
            run: {
              positions: run.positions,
              hashes: run.hashes,
              size: run.range.size,
              range: grown,
            },
          },
          [grown.buffer],
        );
      },
      (error: unknown) => post({ kind: 'error', id, message: messageOf(error) }),
    );
  });
  post({ kind: 'ready', ...thisThread() });
}

/** This thread's id and nice value as the kernel sees them (Linux; null elsewhere). */
function thisThread(): { threadId: number | null; nice: number | null } {
  try {
    const threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // After the command's closing parenthesis: state is field 3, nice field 19.
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    return { threadId, nice };
  } catch {
    return { threadId: null, nice: null };
  }
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? (error.stack ?? error.message) : String(error);

void main();

import { AsyncLocalStorage } from 'node:async_hooks';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync } from 'node:fs';
import { mkdtemp, open as openFile, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { PGlite, PGliteOptions } from '@electric-sql/pglite';
import { ColumnParser, MessageWriter, readAnswer, toParameter, WireAnswer } from './pglite-wire';
import { SqlClient, TransactionClient } from './sql-client';

/**
 * PGlite's server settings, plus a buffer cache of 16 MB instead of PostgreSQL's 128 MB: the
 * cache lives in the wasm heap, which never gives memory back, so its size is resident memory
 * of the process (the files stay cached by the operating system either way). Measured on a
 * database opened from disk: 310 MB resident with the default, 170 MB with this.
 *
 * And no activity statistics: PGlite runs PostgreSQL in single-user mode, where no autovacuum
 * reads the per-table counters and no other session looks at pg_stat_activity, yet every
 * statement still counted its rows and published its text. The API's own statements replayed
 * on a new data directory cost about 5% less CPU without them.
 */
export const PGLITE_START_PARAMS = [
  ...PGlite.defaultStartParams,
  '-c',
  'shared_buffers=16MB',
  '-c',
  'track_counts=off',
  '-c',
  'track_activities=off',
];
const START_PARAMS = PGLITE_START_PARAMS;
const START_PARAMS_KEY = createHash('sha256')
  .update(START_PARAMS.join(' '))
  .digest('hex')
  .slice(0, 8);

/**
 * V8 compiles PGlite's wasm module (9 MB) function by function as it is first called, with its
 * baseline compiler (Liftoff), and recompiles the hot ones with its optimizing compiler
 * (TurboFan) on background threads. That tier-up runs in those threads even with
 * `--wasm-num-compilation-tasks=0` (a heap profile shows it), and its scratch memory stays
 * behind in their malloc arenas: in the API, 60–85 MB of resident arenas with it, 12–18 MB
 * without (figures with the flag set, as it is here).
 * Set once, before the first module is compiled (the flags are read at compile time).
 */
let wasmFlagsSet = false;
let wasmOptimizedOnly = false;
const setWasmFlags = (): void => {
  if (wasmFlagsSet) return;
  wasmFlagsSet = true;
  setFlagsFromString('--wasm-num-compilation-tasks=0');
  if (wasmOptimizedOnly) setFlagsFromString('--no-liftoff');
};

/**
 * For a long-running process (the API): PGlite's functions compiled by the optimizing compiler
 * alone, each on the main thread when first called, with no baseline code and no tier-up. On a
 * data directory, 1,500 appends one after another: 1.11–1.19 ms of CPU per append instead of
 * 1.48–1.67, 170–184 MB resident instead of 194–226. Opening the database costs about 2 s more
 * CPU (its first statements compile what they call), so tests and tools that open many
 * databases keep the default. Call before the first database is opened in the process.
 */
export function compileEmbeddedWasmOptimized(): void {
  if (wasmOptimizedOnly) return;
  wasmOptimizedOnly = true;
  // Databases opened from here on; one already open keeps its code.
  if (wasmFlagsSet) setFlagsFromString('--no-liftoff');
}

/**
 * PGlite's wasm module, compiled once per process from bytes that never pass through malloc.
 *
 * PGlite reads its 9 MB module into a Buffer, which glibc's malloc serves by mmap and gives back
 * when the Buffer is collected. Freeing a mapped block raises malloc's mmap threshold to the
 * block's size and its trim threshold to twice that, for the life of the process: from then on
 * allocations below 9 MB come from the heap, and the heap's free top goes back to the system
 * only beyond 18 MB, so what compiling PGlite's largest functions takes for a moment stayed
 * resident (in the API after a load, malloc_trim gave back 36 MB of a 52 MB heap). Read into the
 * buffer of a WebAssembly.Memory, which V8 maps and unmaps itself, the module raises nothing; the
 * compiler's own largest block (6.8 MB) still does, to half as much: the API's heap is 37 MB
 * instead of 52 after the same load. V8 keeps its own copy of the bytes with the module.
 */
let pgliteModule: Promise<WasmModule> | undefined;
const compilePgliteModule = (): Promise<WasmModule> => {
  pgliteModule ??= (async () => {
    const path = join(dirname(require.resolve('@electric-sql/pglite')), 'pglite.wasm');
    const file = await openFile(path);
    try {
      const { size } = await file.stat();
      const memory = new wasm.Memory({ initial: Math.ceil(size / WASM_PAGE) });
      const bytes = new Uint8Array(memory.buffer, 0, size);
      for (let read = 0; read < size;) {
        const { bytesRead } = await file.read(bytes, read, size - read, read);
        if (bytesRead === 0) throw new Error(`${path}: ended after ${read} of ${size} bytes`);
        read += bytesRead;
      }
      return await wasm.compile(bytes);
    } finally {
      await file.close();
    }
  })().catch((error: unknown) => {
    pgliteModule = undefined; // the next open tries again
    throw error;
  });
  return pgliteModule;
};
const WASM_PAGE = 65_536;
type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;
/** The WebAssembly global, which the project's type libraries (no DOM) leave undeclared. */
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
      compile(bytes: Uint8Array): Promise<WasmModule>;
    };
  }
).WebAssembly;

/** Prepared statements kept per database; the least recently used is closed beyond this. */
const PREPARED_MAX = 256;
/** SQLSTATE of "cached plan must not change result type" (among others). */
const FEATURE_NOT_SUPPORTED = '0A000';

/**
 * The initialized data directory (initdb) that new databases start from, made once per machine,
 * PGlite version and settings by a short-lived child process. Run in this process, initdb's wasm
 * heap stays resident for good: about 450 MB the open database never uses. Starting from it also
 * spares every later new database the seconds initdb takes. Beside the directory lies the same
 * database as a tarball (`.tar`), which an in-memory database is loaded from.
 */
async function template(): Promise<string> {
  const main = require.resolve('@electric-sql/pglite');
  const packageJson = join(dirname(main), '..', 'package.json');
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
  const template = join(tmpdir(), `truceline-pglite-${version}-${START_PARAMS_KEY}`);
  if (!existsSync(join(template, 'PG_VERSION')) || !existsSync(`${template}.tar`)) {
    // Built aside and renamed into place, the tarball first: processes starting at once never
    // see half a template.
    const building = await mkdtemp(`${template}-`);
    const script = `
      const { writeFileSync } = require('node:fs');
      const { PGlite } = require(${JSON.stringify(main)});
      const db = new PGlite(${JSON.stringify(building)}, { startParams: ${JSON.stringify(START_PARAMS)} });
      db.waitReady
        .then(() => db.exec('CHECKPOINT'))
        .then(() => db.dumpDataDir('none'))
        .then((tar) => tar.arrayBuffer())
        .then((tar) => writeFileSync(${JSON.stringify(`${building}.tar`)}, new Uint8Array(tar)))
        .then(() => db.close())
        .catch((error) => { console.error(error); process.exit(1); });`;
    try {
      await promisify(execFile)(process.execPath, ['-e', script]);
      await rename(`${building}.tar`, `${template}.tar`);
      await rename(building, template).catch(async () => {
        await rm(building, { recursive: true, force: true }); // another process put one in place
      });
    } finally {
      await rm(`${building}.tar`, { force: true });
    }
  }
  return template;
}

/**
 * Creates a data directory by copying the template. Synchronously: the promise version copies
 * its thousand files in JavaScript, at 0.5–1.5 s of CPU against 0.2–0.3 s for this one.
 */
async function initDataDir(dataDir: string): Promise<void> {
  cpSync(await template(), dataDir, { recursive: true });
}

/**
 * The template as a tarball, read once per process (39 MB): an in-memory database loaded from
 * it starts without running initdb in this process, which took 4–5 s of CPU per database.
 */
let templateTarball: Promise<Blob> | undefined;
const loadTemplateTarball = (): Promise<Blob> => {
  templateTarball ??= (async () => {
    const tar = await readFile(`${await template()}.tar`);
    return new Blob([tar], { type: 'application/x-tar' });
  })().catch((error: unknown) => {
    templateTarball = undefined; // the next open tries again
    throw error;
  });
  return templateTarball;
};

/**
 * Background work that requests may come to wait for (see `promotable`): its turns go as a
 * request's once one does.
 */
class Promotion {
  promoted = false;
  /** For each of its turns waiting as background work: moves it to the requests' queue. */
  readonly waiting = new Set<() => void>();

  promote(): void {
    if (this.promoted) return;
    this.promoted = true;
    for (const move of this.waiting) move();
    this.waiting.clear();
  }
}

/** Which work a statement serves: see `inBackground` and `promotable`. */
const background = new AsyncLocalStorage<boolean | Promotion>();

/**
 * Runs `fn`, and everything it starts (subscriptions, timers), as background work of the
 * embedded database: when requests and background work both wait for PGlite's one connection,
 * requests go first, background work still getting a turn after BACKGROUND_TURN_EVERY of
 * theirs that held the connection REQUEST_TIME_PER_BACKGROUND_TIME times as long as its own
 * last turn. Has no effect on PostgreSQL, whose pool serves both at once.
 */
export function inBackground<T>(fn: () => T): T {
  return background.run(true, fn);
}

/**
 * Runs `fn`, and everything it starts, as a request's work even when called from background
 * work: for what answers wait for (the projection a command's answer reads its own write from,
 * an append a request made, grouped with others). Has no effect on PostgreSQL.
 */
export function asRequest<T>(fn: () => T): T {
  return background.run(false, fn);
}

/** Whether the caller runs as background work of the embedded database (see `inBackground`). */
export function isBackgroundWork(): boolean {
  const work = background.getStore();
  return work === true || (work instanceof Promotion && !work.promoted);
}

/**
 * Runs `fn`, work that others may come to wait for (a read of the log its readers share), so
 * that it goes as a request's from the moment a request waits for it: `promote`, called from a
 * request's work, moves the turns `fn` waits for to the requests' queue, and so every turn it
 * takes after. Begun by a request, `fn` is a request's work anyway; `promote` called from
 * background work changes nothing. Without it a request that shared a read begun by background
 * work waited behind all the background work queued before that read, requests' turns going
 * first meanwhile. Has no effect on PostgreSQL.
 */
export function promotable<T>(fn: () => T): { result: T; promote: () => void } {
  if (!isBackgroundWork()) return { result: fn(), promote: () => undefined };
  const promotion = new Promotion();
  return {
    result: background.run(promotion, fn),
    promote: () => {
      if (!isBackgroundWork()) promotion.promote();
    },
  };
}

/** Background work waiting gets a turn after at least this many requests' turns… */
const BACKGROUND_TURN_EVERY = 4;
/**
 * …and once requests' turns have held the connection this many times as long as background
 * work's last turn did: while requests wait, background work gets at most a quarter of the
 * connection's time, however long its turns. Counted in turns alone, a page of a projection
 * (a transaction of 10–30 ms) went after every four GETs of a fraction of a millisecond each:
 * the background work had nine tenths of the connection and the GETs waited behind it.
 */
const REQUEST_TIME_PER_BACKGROUND_TIME = 3;
/** How long turns follow one another before the event loop gets to run (see `turn`). */
const SLICE_MS = 2;

interface Turn {
  start: () => void;
}

/**
 * SqlClient over PGlite, the embedded PostgreSQL. PGlite is a single connection: every
 * statement, and every transaction as a whole, takes a turn on it, so concurrent callers are
 * serialized rather than interleaved, and a transaction never sees statements of another
 * caller. Requests' turns come before background work's (see `inBackground`).
 *
 * Statements go to the wasm module as one message each (Parse, Bind, Describe, Execute, Sync),
 * parameters and columns in text, and each distinct statement text is parsed once per database
 * (a named prepared statement: PostgreSQL re-plans it by itself when a table it uses changes or
 * the search_path differs, and every one is prepared again after a CREATE, ALTER or DROP, since
 * it would keep the parameter types it was first given). Rows come back with PGlite's parsers, so
 * they read as they did through PGlite's `query`. Parameters are turned into text as `pg` does
 * for PostgreSQL: both engines take the same values.
 *
 * The one way to hang it is to wait, inside a transaction, for a statement issued on the root
 * client: that statement queues behind the very transaction waiting for it. Such calls are
 * detected (the transaction's async context is tracked) and rejected with an explanation instead.
 */
export class PgliteSqlClient implements SqlClient {
  readonly engine = 'pglite' as const;
  private readonly insideTransaction = new AsyncLocalStorage<true>();
  private readonly parsers: Record<number, ColumnParser | undefined>;
  private readonly prepared = new Map<string, string>();
  private readonly closing: string[] = [];
  private nextStatement = 0;
  private busy = false;
  private yielding = false;
  private sliceStarted = performance.now();
  private closed = false;
  private readonly requests: Turn[] = [];
  private readonly backgroundWork: Turn[] = [];
  private requestTurnsInARow = 0;
  /** Requests' time (ms) still owed before background work's next turn while they wait. */
  private owedToRequestsMs = 0;
  private turnStarted = 0;
  private turnIsBackground = false;

  private constructor(private readonly db: PGlite) {
    this.parsers = db.parsers as Record<number, ColumnParser | undefined>;
  }

  /** Opens (creating if needed) the database in `dataDir`, or an in-memory one without it. */
  static async open(dataDir?: string): Promise<PgliteSqlClient> {
    if (dataDir && !existsSync(join(dataDir, 'PG_VERSION'))) await initDataDir(dataDir);
    const loadDataDir = dataDir ? undefined : await loadTemplateTarball();
    setWasmFlags();
    // One options argument: PGlite takes `(dataDir, options)` only when dataDir is a string,
    // and would drop every option of an in-memory database given `(undefined, options)`.
    const db = new PGlite({
      dataDir,
      startParams: START_PARAMS,
      pgliteWasmModule: await compilePgliteModule(),
      loadDataDir,
    });
    await db.waitReady;
    return new PgliteSqlClient(db);
  }

  async query<T = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: T[] }> {
    this.assertNotInsideTransaction();
    const release = await this.turn();
    try {
      return await this.run<T>(text, params ?? [], true);
    } finally {
      release();
    }
  }

  async exec(script: string): Promise<void> {
    this.assertNotInsideTransaction();
    const release = await this.turn();
    try {
      await this.runScript(script);
    } finally {
      release();
    }
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    this.assertNotInsideTransaction();
    const release = await this.turn();
    try {
      await this.runScript('BEGIN');
      const tx = new TransactionClient(this.engine, {
        query: async <R>(text: string, params?: unknown[]) => this.run<R>(text, params ?? []),
        exec: async (script: string) => {
          await this.runScript(script);
        },
      });
      let result: T;
      try {
        result = await this.insideTransaction.run(true, () => fn(tx));
      } catch (error) {
        await this.runScript('ROLLBACK');
        throw error;
      } finally {
        tx.end();
      }
      // COMMIT of a transaction that failed (an error swallowed by its callback) rolls back.
      const status = await this.runScript('COMMIT');
      if (status === 'ROLLBACK') throw new Error('the transaction failed and was rolled back');
      return result;
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const release = await this.turn();
    release();
    if (!this.db.closed) await this.db.close();
  }

  /**
   * Waits for this caller's turn on the connection; the function returned ends it.
   *
   * PGlite runs a statement synchronously, and a turn handed from one caller to the next is a
   * promise resolved: a queue of work that never empties would run as one chain of microtasks,
   * and nothing else of the process — reading requests, writing answers, timers — would run
   * until it did (an answer ready after one statement went out after the whole backlog). So
   * the connection is handed on directly only within a slice of SLICE_MS; then the next turn
   * waits for setImmediate, which lets the event loop go round first.
   */
  private turn(): Promise<() => void> {
    return new Promise((resolve) => {
      const turn = { start: () => resolve(this.release) };
      const work = background.getStore();
      if (work instanceof Promotion && !work.promoted) {
        const promote = () => {
          const at = this.backgroundWork.indexOf(turn);
          if (at < 0) return;
          this.backgroundWork.splice(at, 1);
          this.requests.push(turn);
          this.dispatch();
        };
        work.waiting.add(promote);
        turn.start = () => {
          work.waiting.delete(promote);
          resolve(this.release);
        };
        this.backgroundWork.push(turn);
      } else if (work === true) this.backgroundWork.push(turn);
      else this.requests.push(turn);
      this.dispatch();
    });
  }

  private readonly release = (): void => {
    const held = performance.now() - this.turnStarted;
    if (this.requests.length === 0 && this.backgroundWork.length === 0) {
      // Nobody waited for this turn: the account of who owes whom time is for callers that
      // wait, and a turn that held an idle connection starts no debt for the next ones.
      this.owedToRequestsMs = 0;
      this.requestTurnsInARow = 0;
    } else if (this.turnIsBackground) {
      this.owedToRequestsMs = held * REQUEST_TIME_PER_BACKGROUND_TIME;
    } else {
      this.owedToRequestsMs -= held;
    }
    this.busy = false;
    this.dispatch();
  };

  private dispatch(): void {
    if (this.busy || this.yielding) return;
    if (this.requests.length === 0 && this.backgroundWork.length === 0) return;
    if (performance.now() - this.sliceStarted >= SLICE_MS) {
      this.yielding = true;
      setImmediate(() => {
        this.yielding = false;
        this.sliceStarted = performance.now();
        this.dispatch();
      });
      return;
    }
    const next = this.nextTurn();
    if (!next) return;
    this.busy = true;
    this.turnStarted = performance.now();
    next.start();
  }

  private nextTurn(): Turn | undefined {
    const backgroundDue =
      this.backgroundWork.length > 0 &&
      (this.requests.length === 0 ||
        (this.requestTurnsInARow >= BACKGROUND_TURN_EVERY && this.owedToRequestsMs <= 0));
    if (backgroundDue) {
      this.requestTurnsInARow = 0;
      this.turnIsBackground = true;
      return this.backgroundWork.shift();
    }
    // Counted only while background work waits: it is owed a turn after BACKGROUND_TURN_EVERY.
    this.requestTurnsInARow = this.backgroundWork.length > 0 ? this.requestTurnsInARow + 1 : 0;
    this.turnIsBackground = false;
    return this.requests.shift();
  }

  /**
   * One statement on the connection, prepared once per distinct text. Should a prepared
   * statement's result columns have changed under it all the same (PostgreSQL refuses with
   * "cached plan must not change result type"), it is dropped and, outside a transaction,
   * prepared again at once; inside one the transaction has failed, and its retry prepares it.
   */
  private async run<T>(text: string, params: unknown[], retry = false): Promise<{ rows: T[] }> {
    const values = params.map(toParameter);
    const writer = new MessageWriter();
    for (const name of this.closing.splice(0)) writer.close(name);
    let name = this.prepared.get(text);
    const parsing = name === undefined;
    if (name === undefined) {
      name = `s${++this.nextStatement}`;
      writer.parse(name, text);
    } else {
      // Most recently used last: the first entry is the one to close when the cache is full.
      this.prepared.delete(text);
      this.prepared.set(text, name);
    }
    writer.bind(name, values).describePortal().execute().sync();
    const answer = await this.send<T>(writer.finish());
    if (parsing && answer.parsed) {
      if (answer.ddl) this.closing.push(name);
      else this.remember(text, name);
    }
    if (answer.error) {
      if (!parsing && answer.error.code === FEATURE_NOT_SUPPORTED) {
        this.prepared.delete(text);
        this.closing.push(name);
        if (retry) return this.run<T>(text, params);
      }
      Object.assign(answer.error, { query: text, params });
      throw answer.error;
    }
    return { rows: answer.rows };
  }

  /** A script of statements without parameters; answers the last command's tag. */
  private async runScript(script: string): Promise<string | undefined> {
    const writer = new MessageWriter();
    for (const name of this.closing.splice(0)) writer.close(name);
    const answer = await this.send(writer.query(script).finish());
    if (answer.error) {
      Object.assign(answer.error, { query: script });
      throw answer.error;
    }
    return answer.command;
  }

  /**
   * Runs a batch of messages ending in Sync. The wasm module runs it synchronously; its answer
   * is collected raw (PGlite's own protocol parser is skipped) and read by `readAnswer`.
   */
  private async send<T>(message: Uint8Array): Promise<WireAnswer<T>> {
    const chunks: Buffer[] = [];
    await this.db.execProtocolRawStream(message, {
      syncToFs: false, // a no-op for the file and memory filesystems used here
      onRawData: (bytes) => chunks.push(Buffer.from(bytes)),
    });
    const answer = readAnswer<T>(
      chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
      this.parsers,
    );
    // A statement prepared before keeps the parameter types it was prepared with: after a
    // schema change every one is prepared again (PostgreSQL would re-plan it, not re-type it).
    if (answer.ddl) this.forgetPrepared();
    return answer;
  }

  private forgetPrepared(): void {
    this.closing.push(...this.prepared.values());
    this.prepared.clear();
  }

  private remember(text: string, name: string): void {
    this.prepared.set(text, name);
    if (this.prepared.size <= PREPARED_MAX) return;
    const [oldest] = this.prepared;
    this.prepared.delete(oldest[0]);
    this.closing.push(oldest[1]);
  }

  private assertNotInsideTransaction(): void {
    if (this.insideTransaction.getStore()) {
      throw new Error(
        'PGlite is a single connection: a statement on the root client issued from inside a ' +
          'running transaction would wait for that transaction forever; use the client handed ' +
          'to the transaction callback',
      );
    }
  }
}

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { Client } from 'pg';

/**
 * Preloaded into the API process by the HTTP bench (`--require`): counts the statements the
 * process sends to PostgreSQL, by kind, and writes the counts to BENCH_STATEMENTS_FILE on
 * SIGUSR2, with the process's CPU time so far. With BENCH_CPU_PROF=<dir> it also profiles the
 * process (NODE_OPTIONS may not carry --cpu-prof): each SIGUSR2 writes the profile of the time
 * since the previous one there, numbered, so each measured run has a profile of its own.
 */
const counts = new Map<string, number>();

const classify = (text: string): string => {
  const sql = text.replace(/\s+/g, ' ').trim();
  if (/^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)/i.test(sql)) return sql.split(' ')[0];
  if (/truceline_append_/.test(sql)) return 'append';
  if (/pg_notify/.test(sql)) return 'notify';
  if (/INSERT INTO checkpoints/.test(sql)) return 'checkpoint write';
  if (/pg_snapshot_xmin|pg_current_snapshot|truceline_read_log/.test(sql)) return 'log read';
  if (/FROM events WHERE stream_id|truceline_read_stream/.test(sql)) return 'stream read';
  const table = /(?:FROM|INTO|UPDATE)\s+([a-z_]+)/i.exec(sql)?.[1] ?? '?';
  return `${sql.split(' ')[0].toUpperCase()} ${table}`;
};

/**
 * The kind of each distinct text, classified once: the process sends a few dozen texts, and
 * normalising a long statement's whitespace on every call was the counter's own cost in the
 * profiles it cuts (0.7-1.1% of the API's busy time under load).
 */
const kinds = new Map<string, string>();
const kindOf = (text: string): string => {
  let kind = kinds.get(text);
  if (kind === undefined) {
    kind = classify(text);
    if (kinds.size < 10_000) kinds.set(text, kind);
  }
  return kind;
};

type Query = (this: Client, ...args: unknown[]) => unknown;
const prototype = Client.prototype as unknown as { query: Query };
const original = prototype.query;
prototype.query = function (this: Client, ...args: unknown[]): unknown {
  const [first] = args;
  const text =
    typeof first === 'string' ? first : ((first as { text?: string } | null)?.text ?? '');
  const kind = kindOf(text);
  counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return original.apply(this, args);
};

const profileDir = process.env.BENCH_CPU_PROF;
let profiles = 0;
const session = profileDir ? new Session() : undefined;
if (session) {
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.start'));
}
const cutProfile = () => {
  if (!session || !profileDir) return;
  session.post('Profiler.stop', (error, result) => {
    if (!error) {
      const name = `api-${String(++profiles).padStart(2, '0')}.cpuprofile`;
      writeFileSync(join(profileDir, name), JSON.stringify(result.profile));
    }
    session.post('Profiler.start');
  });
};

/**
 * BENCH_HEAP_PROF=<dir>: V8's sampling heap profiler over the same spans as the CPU profiles,
 * counting the objects collected since (what the process allocated, not only what it kept):
 * api-NN.heapprofile, one per SIGUSR2.
 */
const heapDir = process.env.BENCH_HEAP_PROF;
let heapProfiles = 0;
const heapSession = heapDir ? new Session() : undefined;
const startSampling = () =>
  heapSession?.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
if (heapSession) {
  heapSession.connect();
  heapSession.post('HeapProfiler.enable', () => startSampling());
}
const cutHeapProfile = () => {
  if (!heapSession || !heapDir) return;
  heapSession.post('HeapProfiler.stopSampling', (error, result) => {
    if (!error) {
      const name = `api-${String(++heapProfiles).padStart(2, '0')}.heapprofile`;
      writeFileSync(join(heapDir, name), JSON.stringify(result.profile));
    }
    startSampling();
  });
};

/**
 * BENCH_GC=1: the time V8's collections took on the main thread, by kind (minor = scavenge,
 * major = mark-compact, incremental = marking steps, weakcb = weak callbacks), and how many,
 * so far: written with the statement counts.
 */
const gc: Record<string, { count: number; ms: number }> = {};
if (process.env.BENCH_GC === '1') {
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  // What a scavenge left in the young generation, and how much the old one grew meanwhile (kB a request)
  // (mostly what scavenges promoted), summed: what lives across collections.
  const used = (name: string) =>
    getHeapSpaceStatistics().find((space) => space.space_name === name)?.space_used_size ?? 0;
  let oldBefore = used('old_space');
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const { detail } = entry as unknown as { detail: { kind: number } };
      const kind = kinds[detail.kind] ?? 'other';
      const seen = (gc[kind] ??= { count: 0, ms: 0 });
      seen.count++;
      seen.ms += entry.duration;
      if (kind === 'minor') {
        const old = used('old_space');
        const young = (gc['young kept, MB'] ??= { count: 0, ms: 0 });
        young.ms += used('new_space') / 2 ** 20;
        const grown = (gc['old grown, MB'] ??= { count: 0, ms: 0 });
        grown.ms += Math.max(0, old - oldBefore) / 2 ** 20;
        oldBefore = old;
      } else oldBefore = used('old_space');
    }
  }).observe({ entryTypes: ['gc'] });
}

const file = process.env.BENCH_STATEMENTS_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    cutProfile();
    cutHeapProfile();
    const usage = process.cpuUsage();
    writeFileSync(
      file,
      JSON.stringify({
        cpuMicros: usage.user + usage.system,
        statements: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])),
        gc,
      }),
    );
  });
}

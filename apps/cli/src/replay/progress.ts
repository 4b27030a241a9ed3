import { SingleBar } from 'cli-progress';
import type { RebuildProgress } from '@truceline/projections';
import type { CliIo } from '../cli-io';

export interface ProgressReporter {
  update(progress: RebuildProgress): void;
  /** Ends the current projection's bar (or line series). */
  stop(): void;
}

const rate = (done: number, startedAt: number): number =>
  done / Math.max((Date.now() - startedAt) / 1000, 0.001);

const seconds = (value: number): string =>
  !Number.isFinite(value)
    ? '?'
    : value < 90
      ? `${Math.ceil(value)} s`
      : `${Math.ceil(value / 60)} min`;

/**
 * Progress of a replay on stderr: a bar with events done / total, events/s and ETA on a
 * terminal; elsewhere (a log, a pipe, CI) one plain line per tenth done, so the output stays
 * readable and short.
 */
export function progressReporter(
  io: CliIo,
  stream: NodeJS.WriteStream = process.stderr,
): ProgressReporter {
  let current: string | undefined;
  let startedAt = Date.now();
  let bar: SingleBar | undefined;
  let lastTenth = -1;
  const begin = (progress: RebuildProgress): void => {
    current = progress.projection;
    startedAt = Date.now();
    lastTenth = -1;
    if (stream.isTTY) {
      bar = new SingleBar({
        stream,
        format:
          '{projection} [{bar}] {percentage}% | {value}/{total} events | {speed} events/s | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 20,
        fps: 10,
      });
      bar.start(Math.max(progress.total, 1), progress.done, {
        projection: progress.projection,
        speed: 0,
      });
    }
  };
  return {
    update(progress) {
      if (progress.projection !== current) {
        this.stop();
        begin(progress);
      }
      const speed = Math.round(rate(progress.done, startedAt));
      if (bar) {
        bar.setTotal(Math.max(progress.total, 1));
        bar.update(progress.done, { speed });
        return;
      }
      const tenth = progress.total === 0 ? 10 : Math.floor((progress.done / progress.total) * 10);
      if (tenth <= lastTenth) return;
      lastTenth = tenth;
      const eta = speed > 0 ? (progress.total - progress.done) / speed : Infinity;
      io.err(
        `${progress.projection}: ${tenth * 10}% (${progress.done}/${progress.total} events, ` +
          `${speed} events/s, ETA ${seconds(eta)})`,
      );
    },
    stop() {
      bar?.stop();
      bar = undefined;
      current = undefined;
    },
  };
}

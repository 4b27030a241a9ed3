import { StoredEvent } from '@truceline/domain';
import { CheckpointRecorder } from './checkpoint-writer';
import {
  BatchEventHandler,
  EventHandler,
  EventStore,
  Subscription,
  SubscriptionOptions,
} from './event-store.port';

/** The log a subscription pages through (the store, or a SharedLogReader over it). */
type Source = Pick<EventStore, 'readAll' | 'readCheckpoint'>;

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;

/**
 * A catch-up subscription over readAll with a durable checkpoint.
 *
 * Delivery: events reach the handler one at a time in position order (a BatchEventHandler gets
 * each page read at once, in one call, and is retried on the whole page). After each page the
 * position reached is recorded with the process's CheckpointWriter, which stores the positions
 * of all its subscriptions together within a short interval (and on stop), so a restart resumes
 * after the last position stored; the events handled since (a crash before the write) are
 * delivered again — handlers deduplicate by event id (STYLE habit 6). A handler that throws is
 * retried on the same event with a growing backoff: an event is never skipped. A subscription
 * never waits for another: each pages, retries and records on its own, even when its pages come
 * from a read shared with them. waitFor answers as soon as the handler finished.
 */
export class CatchUpSubscription implements Subscription {
  readonly subscriberId: string;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  /** The checkpoint it started from. */
  private started = 0;
  /** The last position whose handler finished (ahead of the stored checkpoint for a while). */
  private handled = 0;
  /** The last position handed to the checkpoint writer. */
  private recorded = 0;
  private stopped = false;
  private running?: Promise<void>;
  private woken = false;
  /** Ends the idle wait under way (set while idle waits). */
  private wakeIdle?: () => void;
  /** Ends the wait under way, idle or backoff (stop). */
  private endPause?: () => void;
  private readonly waiters = new Set<Waiter>();

  constructor(
    private readonly source: Source,
    private readonly checkpoints: CheckpointRecorder,
    private readonly handler: EventHandler | BatchEventHandler,
    private readonly options: SubscriptionOptions,
    private readonly onStopped: () => void = () => undefined,
  ) {
    this.subscriberId = options.subscriberId;
    this.batchSize = options.batchSize ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  /** Loads the durable checkpoint, then runs in the background until stop(). */
  async start(): Promise<void> {
    this.started = await this.source.readCheckpoint(this.subscriberId);
    this.handled = this.started;
    this.recorded = this.started;
    this.running = this.run();
  }

  /** New events may be there: skip the rest of the idle wait. */
  wake(): void {
    this.woken = true;
    this.wakeIdle?.();
  }

  checkpoint(): number {
    return Math.max(this.started, this.checkpoints.stored(this.subscriberId) ?? 0);
  }

  /** Resolves once the handler has finished every event up to `position`. */
  waitFor(position: number, timeoutMs = 30_000): Promise<void> {
    if (this.handled >= position) return Promise.resolve();
    if (this.stopped) return Promise.reject(this.notReached(position, 'it was stopped'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        position,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(this.notReached(position, `${timeoutMs} ms passed`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves once the loop has ended; an event whose handler is running is finished first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.endPause?.();
    await this.running;
    // What it handled is stored before stop resolves: a restart resumes right after it.
    this.record();
    await this.checkpoints.flush().catch((error: unknown) => this.report(error));
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(this.notReached(waiter.position, 'it was stopped'));
    }
    this.waiters.clear();
    this.onStopped();
  }

  private async run(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (!this.stopped) {
      try {
        this.woken = false;
        const batch = await this.source.readAll({ after: this.handled, limit: this.batchSize });
        if (batch.length === 0) {
          await this.idle();
          continue;
        }
        const handler = this.handler;
        if (typeof handler !== 'function') {
          if (await this.deliver(batch[0], () => handler.batch(batch))) {
            this.handled = batch[batch.length - 1].position;
            this.settleWaiters();
          }
        } else {
          for (const event of batch) {
            if (!(await this.deliver(event, () => handler(event)))) break;
            this.handled = event.position;
            this.settleWaiters();
            if (this.stopped) break;
          }
        }
        // Recorded per page, stored with the other subscriptions' within an interval: an event
        // handled but not yet stored when the process dies is delivered again (handlers
        // deduplicate).
        this.record();
        if (this.stopped) return;
        backoff = FIRST_BACKOFF_MS;
      } catch (error) {
        // The store itself failed (connection lost…): report, wait, and read again from the
        // last checkpointed position.
        this.report(error);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /**
   * True once the handler accepted the event (or the page starting with it); false when
   * stopped while retrying it.
   */
  private async deliver(event: StoredEvent, handle: () => Promise<void>): Promise<boolean> {
    let backoff = FIRST_BACKOFF_MS;
    for (;;) {
      try {
        await handle();
        return true;
      } catch (error) {
        this.report(error, event);
        await this.sleep(backoff);
        if (this.stopped) return false;
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private report(error: unknown, event?: StoredEvent): void {
    if (event && this.options.onError) return this.options.onError(error, event);
    const where = event ? `event ${event.id} at position ${event.position}` : 'reading the log';
    console.error(`subscription ${this.subscriberId} failed on ${where}; retrying`, error);
  }

  /** Waits for the poll interval, an append (wake) or stop, whichever comes first. */
  private async idle(): Promise<void> {
    if (this.woken) return;
    await this.pause(this.pollIntervalMs, true);
  }

  private async sleep(ms: number): Promise<void> {
    await this.pause(ms, false);
  }

  /**
   * Waits `ms`, or less if stopped (or woken, when `wakeable`). Not a race against a promise
   * that lives as long as the subscription: every race adds a reaction to both promises, and the
   * long-lived one would keep each of them (one per idle wait, thousands a minute under load).
   */
  private pause(ms: number, wakeable: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.endPause = undefined;
        this.wakeIdle = undefined;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.endPause = end;
      if (wakeable) this.wakeIdle = end;
    });
  }

  private record(): void {
    if (this.handled <= this.recorded) return;
    this.checkpoints.record(this.subscriberId, this.handled);
    this.recorded = this.handled;
  }

  private settleWaiters(): void {
    for (const waiter of this.waiters) {
      if (this.handled < waiter.position) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }

  private notReached(position: number, why: string): Error {
    return new Error(
      `subscription ${this.subscriberId} did not reach position ${position} (at ${this.handled}): ${why}`,
    );
  }
}

interface Waiter {
  position: number;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

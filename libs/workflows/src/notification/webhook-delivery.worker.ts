import type { PartnerWebhook } from '@truceline/config';
import { NotificationDelivered } from '@truceline/domain';
import { IncidentCommandHandler } from '../incident-command.handler';
import { NOTIFICATION_ACTOR } from '../notification.service';
import { Clock } from '../runtime.port';
import { PeriodicPass } from '../periodic-pass';
import { webhookHeaders } from './webhook-signature';
import { ClaimedDelivery, WebhookOutbox } from './webhook-outbox';

export interface RetryPolicy {
  /** Delay after the first failed attempt; doubles with every further failure. */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 500, maxMs: 5 * 60_000 };

/**
 * Exponential backoff with jitter: base·2^(failures−1), spread over ±20 % so that deliveries
 * that failed together (a partner outage) do not all come back in the same instant, and never
 * more than the cap.
 */
export function retryDelayMs(
  failures: number,
  policy: RetryPolicy = DEFAULT_RETRY,
  random: () => number = Math.random,
): number {
  const exponential = policy.baseMs * 2 ** Math.max(failures - 1, 0);
  const jittered = Math.min(exponential, policy.maxMs) * (0.8 + 0.4 * random());
  return Math.round(Math.min(jittered, policy.maxMs));
}

export interface WebhookDeliveryDeps {
  outbox: WebhookOutbox;
  /** Partner endpoints and secrets, read at send time: a rotated secret applies to pending rows. */
  webhooks: ReadonlyMap<string, PartnerWebhook>;
  /** The incident command path that records NotificationDelivered. */
  incidents: IncidentCommandHandler;
  /** The app's clock (possibly the exercise clock): NotificationDelivered's occurredAt. */
  clock: Clock;
}

export interface WebhookDeliveryOptions {
  /** How often due rows are looked for (retries, other instances' planning). */
  intervalMs?: number;
  /** Per request: a partner slower than this counts as failed. */
  timeoutMs?: number;
  /** Requests in flight at once, over all partners. */
  concurrency?: number;
  /** Requests in flight at once to one partner: a slow partner cannot take every slot. */
  perPartner?: number;
  /** How long a claimed row stays invisible to other workers; well above timeoutMs. */
  leaseMs?: number;
  retry?: RetryPolicy;
  random?: () => number;
  /** Wall clock of the signature timestamp (real time even in exercise mode: receivers check it). */
  now?: () => Date;
  onError?: (error: unknown) => void;
}

type Outcome = { ok: true } | { ok: false; error: string };

/**
 * Sends the outbox's due deliveries to the partners' webhooks (SPEC §5).
 *
 * Guarantees: at-least-once delivery (a row stays due until its partner answers 2xx; a crash
 * between send and bookkeeping means a resend, deduplicated by the receiver on webhook-id)
 * and an exactly-once record: NotificationDelivered gets the id
 * `deterministicId(deliveryId, 'delivered')`, so recording a resent delivery is a no-op.
 * Requests run concurrently with per-partner limits and a timeout, and a failed delivery waits
 * out its backoff without holding a slot: a slow or down partner never delays the others.
 */
export class WebhookDeliveryWorker {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly perPartner: number;
  private readonly leaseMs: number;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly now: () => Date;
  private readonly onError: (error: unknown) => void;
  private readonly inFlight = new Map<string, { partner: string; done: Promise<void> }>();
  /** The last record queued per incident: this worker's records of one incident, in turn. */
  private readonly recording = new Map<string, Promise<void>>();
  private readonly passes: PeriodicPass;

  constructor(
    private readonly deps: WebhookDeliveryDeps,
    options: WebhookDeliveryOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 200;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.concurrency = options.concurrency ?? 32;
    this.perPartner = options.perPartner ?? 4;
    this.leaseMs = options.leaseMs ?? Math.max(30_000, this.timeoutMs * 4);
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? (() => new Date());
    this.onError = options.onError ?? (() => undefined);
    this.passes = new PeriodicPass(() => this.claimAndSend(), this.intervalMs, this.onError);
  }

  start(): void {
    if (this.passes.started) return;
    this.passes.start();
    void this.tick();
  }

  /** Something was planned: look now rather than at the next interval. */
  nudge(): void {
    if (this.passes.started) void this.tick();
  }

  /** Stops claiming and waits for the requests in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    await this.passes.stop();
    await Promise.all([...this.inFlight.values()].map((f) => f.done));
  }

  /** One claim; concurrent calls coalesce into one more pass after the current one. */
  tick(): Promise<void> {
    return this.passes.tick();
  }

  private async claimAndSend(): Promise<void> {
    const free = this.concurrency - this.inFlight.size;
    if (free <= 0) return;
    const perPartner = new Map<string, number>();
    for (const { partner } of this.inFlight.values()) {
      perPartner.set(partner, (perPartner.get(partner) ?? 0) + 1);
    }
    const busy = [...perPartner].filter(([, n]) => n >= this.perPartner).map(([p]) => p);
    const claimed = await this.deps.outbox.claimDue(
      Math.min(free, this.perPartner * 4),
      this.leaseMs,
      busy,
    );
    for (const delivery of claimed) {
      const done = this.deliver(delivery)
        .catch(this.onError)
        .finally(() => {
          this.inFlight.delete(delivery.deliveryId);
          // A slot is free again: rows left behind by the limits may be waiting.
          this.nudge();
        });
      this.inFlight.set(delivery.deliveryId, { partner: delivery.partner, done });
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const webhook = this.deps.webhooks.get(delivery.partner);
    const failures = delivery.attempts + 1;
    if (!webhook) {
      const error = `no webhook configured for partner ${delivery.partner}`;
      await this.deps.outbox.markFailed(delivery, error, this.retry.maxMs);
      return;
    }
    const outcome = await this.post(webhook, delivery);
    if (!outcome.ok) {
      const delay = retryDelayMs(failures, this.retry, this.random);
      await this.deps.outbox.markFailed(delivery, outcome.error, delay);
      return;
    }
    try {
      // Record first, then mark: a crash in between resends, and the record stays single.
      await this.recordInTurn(delivery);
      await this.deps.outbox.markDelivered(delivery, webhook.webhookUrl);
    } catch (error) {
      const delay = retryDelayMs(failures, this.retry, this.random);
      await this.deps.outbox
        .markFailed(delivery, `delivered, but recording failed: ${messageOf(error)}`, delay)
        .catch(() => undefined); // the lease lapses and another pass retries
      throw error;
    }
  }

  private async post(webhook: PartnerWebhook, delivery: ClaimedDelivery): Promise<Outcome> {
    try {
      const response = await fetch(webhook.webhookUrl, {
        method: 'POST',
        headers: webhookHeaders(delivery.deliveryId, webhook.secrets, delivery.body, this.now()),
        body: delivery.body,
        // A redirect would carry a signed notice to an endpoint nobody configured.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true };
      return { ok: false, error: `HTTP ${response.status}` };
    } catch (error) {
      // Duck-typed: fetch's errors may come from another realm (DOMException, undici's own).
      if ((error as { name?: unknown } | null)?.name === 'TimeoutError') {
        return { ok: false, error: `no answer within ${this.timeoutMs} ms` };
      }
      return { ok: false, error: messageOf(error) };
    }
  }

  /**
   * NotificationDelivered, through the incident command path: a fact the decider keeps even
   * after resolution, with an id derived from the delivery, so recording a resend is a no-op.
   */
  /**
   * Records of one incident are one stream's writers: queued per incident, this worker's
   * burst of deliveries (a tier change to every partner) does not contend with itself for the
   * stream's revision; only other instances' records still meet it, and the command path's
   * retry absorbs those.
   */
  private recordInTurn(delivery: ClaimedDelivery): Promise<void> {
    const previous = this.recording.get(delivery.incidentId) ?? Promise.resolve();
    const turn = previous.catch(() => undefined).then(() => this.record(delivery));
    this.recording.set(delivery.incidentId, turn);
    const forget = () => {
      if (this.recording.get(delivery.incidentId) === turn)
        this.recording.delete(delivery.incidentId);
    };
    turn.then(forget, forget);
    return turn;
  }

  private async record(delivery: ClaimedDelivery): Promise<void> {
    const data: NotificationDelivered = {
      partner: delivery.partner,
      subject: delivery.subject,
      ...(delivery.tier === undefined ? {} : { tier: delivery.tier }),
      channel: 'webhook',
      reference: delivery.deliveryId,
    };
    await this.deps.incidents.handle(
      delivery.incidentId,
      { type: 'RecordDelivery', data },
      {
        actor: NOTIFICATION_ACTOR,
        occurredAt: this.deps.clock.now().toISOString(),
        correlationId: delivery.correlationId,
        cause: { id: delivery.causationId },
      },
    );
  }
}

function messageOf(error: unknown): string {
  const e = error as { message?: unknown; cause?: { code?: string; message?: string } } | null;
  if (typeof e?.message !== 'string') return String(error);
  // fetch reports network failures as "fetch failed" with the real reason in `cause`.
  return e.cause ? `${e.message}: ${e.cause.code ?? e.cause.message ?? ''}` : e.message;
}

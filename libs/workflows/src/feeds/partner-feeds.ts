import { Actor } from '@truceline/domain';
import { FeedEntry } from '@truceline/projections';
import { CommandResult } from '../runtime.port';

/** The partner feeds as the edges see them: GET /v1/feed, the SSE stream and receipts. */
export interface PartnerFeeds {
  /** Entries with seq > after, in seq order, at most limit (capped at 500). */
  page(partner: string, after: number, limit: number): Promise<FeedEntry[]>;
  /** The entry of that partner's feed with this id; null when it is not in that feed. */
  entry(partner: string, eventId: string): Promise<FeedEntry | null>;
  /** The partner's last seq (0 when its feed is empty). */
  head(partner: string): Promise<number>;
  /** NoticeAcknowledged, once per partner and notice; a repeat returns the first receipt. */
  acknowledge(partner: string, eventId: string, actor: Actor): Promise<CommandResult>;
  /**
   * Called after the projector of this process added entries; returns the unsubscribe function.
   * Entries projected by another process are not announced here: readers also poll.
   */
  onAppended(listener: () => void): () => void;
}

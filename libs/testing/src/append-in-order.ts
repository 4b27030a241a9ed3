import { NewEvent } from '@truceline/domain';
import { AppendResult, EventStore } from '@truceline/event-store';

/**
 * Appends to each stream at the revision the previous append left it at: for a test that is
 * each stream's only writer, so every append states what it expects, as production code does.
 */
export function appendInOrder(
  store: Pick<EventStore, 'append'>,
): (streamId: string, events: NewEvent[]) => Promise<AppendResult> {
  const revisions = new Map<string, number>();
  return async (streamId, events) => {
    const appended = await store.append(streamId, events, {
      expectedRevision: revisions.get(streamId) ?? 'no-stream',
    });
    revisions.set(streamId, appended.nextExpectedRevision);
    return appended;
  };
}

import { NewEvent, ValidationError } from '@truceline/domain';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Rejects a malformed append before it reaches the database, with every problem at once; else
 * answers its event ids in lower case, as the store compares them.
 */
export function validateAppend(streamId: string, events: NewEvent[]): Set<string> {
  const problems: { field: string; message: string }[] = [];
  if (!streamId) problems.push({ field: 'streamId', message: 'must not be empty' });
  const ids = new Set<string>();
  events.forEach((event, i) => {
    const at = (field: string, message: string) =>
      problems.push({ field: `events[${i}].${field}`, message });
    if (!UUID.test(event.id ?? '')) at('id', 'must be a UUID');
    else if (ids.has(event.id.toLowerCase())) at('id', 'appears twice in one append');
    else ids.add(event.id.toLowerCase());
    if (!event.type) at('type', 'must not be empty');
    if (Number.isNaN(Date.parse(event.occurredAt))) at('occurredAt', 'must be an ISO instant');
    if (event.data === undefined) at('data', 'is required');
    if (event.metadata === undefined) at('metadata', 'is required');
  });
  if (problems.length > 0) throw new ValidationError('invalid append', problems);
  return ids;
}

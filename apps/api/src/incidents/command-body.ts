import type { CommandContext } from '@truceline/workflows';
import { Instant } from '../http/dto-fields';

/** What every command body may carry besides its data (SPEC §2). */
export abstract class CommandBody {
  @Instant({
    required: false,
    description: 'When it happened (ISO 8601 with offset); defaults to now. May lie in the past.',
    rule: 'not more than 5 minutes after the clock of the server (SPEC §2)',
  })
  occurredAt?: string;
}

/**
 * The event data of a validated body: a plain object without `occurredAt` (it goes to the
 * context) and without the properties the client left out.
 */
export function dataOf<T extends CommandBody>(body: T): Omit<T, 'occurredAt'> {
  const { occurredAt: _occurredAt, ...data } = body;
  return plain(data) as Omit<T, 'occurredAt'>;
}

/**
 * What `JSON.parse(JSON.stringify(value))` gives for a body parsed from JSON and validated
 * (strings, finite numbers, booleans, null, arrays, the DTOs' instances), copied directly: the
 * round trip through text cost as much as a tenth of the pipe's validation a POST.
 */
function plain(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : plain(item)));
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) copy[key] = plain(item);
  }
  return copy;
}

export const withOccurredAt = (context: CommandContext, body: CommandBody): CommandContext =>
  body.occurredAt === undefined ? context : { ...context, occurredAt: body.occurredAt };

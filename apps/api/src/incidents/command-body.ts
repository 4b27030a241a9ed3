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
  return JSON.parse(JSON.stringify(data)) as Omit<T, 'occurredAt'>;
}

export const withOccurredAt = (context: CommandContext, body: CommandBody): CommandContext =>
  body.occurredAt === undefined ? context : { ...context, occurredAt: body.occurredAt };

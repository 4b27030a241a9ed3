import { randomUUID } from 'node:crypto';
import { SqlClient } from './sql-client';

/**
 * Tells other processes listening on a channel (PostgreSQL only) that something committed. The
 * NOTIFY is sent after the commit, not inside the transaction, which would serialize the commits
 * of every writer on the server's notification queue lock; and coalesced: at most one in flight,
 * plus one more if more committed meanwhile. Listeners also poll, so a NOTIFY that fails only
 * delays them. The statement is kept prepared: under load one goes after every few groups of
 * appends.
 */
export class NotifyAfterCommit {
  /**
   * The payload of every NOTIFY this notifier sends: a listener over the same client can tell
   * its own notifications, which come back to it, from other processes' (see SqlEventStore).
   */
  readonly token = randomUUID();
  private running = false;
  private again = false;

  constructor(
    private readonly sql: SqlClient,
    private readonly channel: string,
  ) {}

  send(): void {
    if (!this.sql.listen) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    const next = (): void => {
      this.again = false;
      this.sql
        .query('SELECT pg_notify($1, $2)', [this.channel, this.token], { prepare: true })
        .catch(() => undefined)
        .finally(() => {
          if (this.again) next();
          else this.running = false;
        });
    };
    next();
  }
}

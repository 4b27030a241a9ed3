/**
 * A transaction's AddPartitionsToTxn asked again within milliseconds when the broker is still
 * finishing the transaction before it, instead of after kafkajs's retry wait.
 *
 * The broker answers EndTxn once it has logged the commit, then writes the commit markers into
 * every partition of the transaction and logs it complete; until then it refuses the producer's
 * next AddPartitionsToTxn with CONCURRENT_TRANSACTIONS. A relay that keeps up begins its next
 * transaction a read of the database after the commit, often inside that window (a probe of
 * back-to-back transactions over ten one-partition topics, 2 ms apart: 3–7% of them on a warm
 * broker, a fifth to a quarter on one just started). kafkajs then refreshes the metadata,
 * forgets the coordinator (see transaction-coordinator.ts) and retries the whole send after the
 * producer's first retry time (20 ms for the relays, randomised ±20%): each such transaction and
 * everything behind it waited about 25 ms for a broker that was ready in a few.
 *
 * Here the refused request is sent again after 1, 2, 4 and 8 ms without logging the refusals
 * (any other error goes to kafkajs at once, which logs it with the send that failed). Only that
 * answer is retried, and only the AddPartitionsToTxn request, which the broker refused
 * without acting on it: what is sent, in which transaction and in which order is unchanged. After
 * the quick attempts (15 ms in all) the refusal goes to kafkajs as before, logged, and its own
 * retries take over.
 */

/** Waits before each quick attempt after a refusal (ms). */
export const QUICK_RETRIES_MS: readonly number[] = [1, 2, 4, 8];

interface ProtocolRequest {
  logResponseError?: boolean;
}

interface BrokerLike {
  lookupRequest(apiKey: number, definition: unknown): (args: unknown) => ProtocolRequest;
  addPartitionsToTxn(this: BrokerLike, args: unknown): Promise<unknown>;
  [key: symbol]: unknown;
}

// kafkajs's internals, loaded through the same module registry kafkajs itself uses (as
// produce-encoding.ts does), so the prototype changed here is the one its producers use.
/* eslint-disable @typescript-eslint/no-require-imports */
const Broker: { prototype: BrokerLike } = require('kafkajs/src/broker');
const {
  requests,
}: { requests: Record<string, unknown> } = require('kafkajs/src/protocol/requests');
const apiKeys: Record<string, number> = require('kafkajs/src/protocol/requests/apiKeys');
/* eslint-enable @typescript-eslint/no-require-imports */

const kafkajsAddPartitionsToTxn = Broker.prototype.addPartitionsToTxn;
/** The broker's own way of sending a request (it drops a connection that closed). */
const SEND_REQUEST = Object.getOwnPropertySymbols(Broker.prototype).find(
  (symbol) => symbol.description === 'private:Broker:sendRequest',
);

const isConcurrentTransactions = (error: unknown): boolean =>
  (error as { type?: unknown } | null)?.type === 'CONCURRENT_TRANSACTIONS';

/** Turns the quick retries on (every process: `createKafka` does it). */
export function retryConcurrentTransactionsQuickly(): void {
  // A kafkajs whose Broker is not shaped as expected keeps its own behaviour.
  if (SEND_REQUEST === undefined) return;
  const sendRequest = SEND_REQUEST;
  Broker.prototype.addPartitionsToTxn = async function addPartitionsToTxn(
    this: BrokerLike,
    args: unknown,
  ) {
    const request = this.lookupRequest(apiKeys.AddPartitionsToTxn, requests.AddPartitionsToTxn);
    const send = this[sendRequest] as (request: ProtocolRequest) => Promise<unknown>;
    for (const wait of QUICK_RETRIES_MS) {
      try {
        return await send.call(this, { ...request(args), logResponseError: false });
      } catch (error) {
        if (!isConcurrentTransactions(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    return kafkajsAddPartitionsToTxn.call(this, args);
  };
}

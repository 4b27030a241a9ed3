import { QUICK_RETRIES_MS, retryConcurrentTransactionsQuickly } from './add-partitions-retry';

const Broker: {
  prototype: { addPartitionsToTxn(args: unknown): Promise<unknown> };
} = require('kafkajs/src/broker');

const SEND_REQUEST = Object.getOwnPropertySymbols(Broker.prototype).find(
  (symbol) => symbol.description === 'private:Broker:sendRequest',
) as symbol;

const refusal = (type: string) => Object.assign(new Error(type), { type, retriable: true });

/**
 * A broker whose AddPartitionsToTxn answers come from `answers` in turn (an Error is thrown),
 * recording what each request asked to log; the patched method runs on it.
 */
function aBroker(answers: (Error | string)[]) {
  const sent: { logResponseError?: boolean }[] = [];
  const broker = {
    lookupRequest: () => (args: unknown) => ({ request: args, response: null }),
    [SEND_REQUEST]: async (request: { logResponseError?: boolean }) => {
      sent.push(request);
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  const addPartitionsToTxn = (args: unknown) =>
    Broker.prototype.addPartitionsToTxn.call(broker, args);
  return { addPartitionsToTxn, sent };
}

describe(retryConcurrentTransactionsQuickly.name, () => {
  beforeAll(() => retryConcurrentTransactionsQuickly());

  it('asks again within milliseconds, unlogged, while the previous transaction is finishing', async () => {
    const { addPartitionsToTxn, sent } = aBroker([
      refusal('CONCURRENT_TRANSACTIONS'),
      refusal('CONCURRENT_TRANSACTIONS'),
      'added',
    ]);
    const waits = jest.spyOn(global, 'setTimeout');

    await expect(addPartitionsToTxn({ topics: [] })).resolves.toBe('added');

    expect(sent).toHaveLength(3);
    expect(sent.every((request) => request.logResponseError === false)).toBe(true);
    // 1 and 2 ms, where the producer's first retry waited 16-24.
    expect(waits.mock.calls.map(([, ms]) => ms)).toEqual([1, 2]);
    waits.mockRestore();
  });

  it('hands any other refusal to kafkajs at once', async () => {
    const { addPartitionsToTxn, sent } = aBroker([refusal('INVALID_PRODUCER_EPOCH')]);

    await expect(addPartitionsToTxn({ topics: [] })).rejects.toMatchObject({
      type: 'INVALID_PRODUCER_EPOCH',
    });
    expect(sent).toHaveLength(1);
  });

  it('after the quick attempts, sends once more as kafkajs does, logging the refusal', async () => {
    const refusals = QUICK_RETRIES_MS.map(() => refusal('CONCURRENT_TRANSACTIONS'));
    const { addPartitionsToTxn, sent } = aBroker([...refusals, refusal('CONCURRENT_TRANSACTIONS')]);

    await expect(addPartitionsToTxn({ topics: [] })).rejects.toMatchObject({
      type: 'CONCURRENT_TRANSACTIONS',
    });
    expect(sent).toHaveLength(QUICK_RETRIES_MS.length + 1);
    // kafkajs's own request: its refusal is logged, and its retries take over.
    expect(sent.at(-1)?.logResponseError).toBeUndefined();
  });
});

/**
 * The transaction coordinator of a transactional producer, looked up once and kept, as Kafka's
 * own client keeps it, instead of asked for before every request that goes to it.
 *
 * kafkajs 2.2 sends a FindCoordinator request before each AddPartitionsToTxn and each EndTxn:
 * two of the five round trips of a relay's transaction (find, add the partitions, produce, find,
 * commit), each one more request for the broker and one more wait on the relay's critical path.
 * Timers on the feed relay at 500 breaches/s put them at 6–14 ms each on a loaded machine, about
 * half of every commit.
 *
 * What is kept is the coordinator's node id, per client (a producer's Cluster) and transactional
 * id; the broker itself is found through the pool at every use, as before, so a connection that
 * dropped is made again. The id is forgotten whenever the client refreshes its metadata (kafkajs
 * does before retrying any retriable error: NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
 * CONCURRENT_TRANSACTIONS, a connection lost) or loses a broker, so a coordinator that moved is
 * asked for again. Asking the wrong broker is only ever refused (NOT_COORDINATOR): nothing about
 * what is written, or in which transaction, depends on this. A relay replaces its producer after
 * any failed transaction, and a new producer has a new Cluster with nothing kept.
 *
 * Group coordinators (consumers) are looked up as kafkajs does.
 */

interface Broker {
  nodeId?: number;
}

interface FindCoordinatorArgs {
  groupId: string;
  coordinatorType?: number;
}

interface ClusterPrototype {
  findGroupCoordinator(this: ClusterLike, args: FindCoordinatorArgs): Promise<Broker>;
  findGroupCoordinatorMetadata(
    this: ClusterLike,
    args: FindCoordinatorArgs,
  ): Promise<{ coordinator: { nodeId: number } }>;
  findBroker(this: ClusterLike, args: { nodeId: number }): Promise<Broker>;
  refreshMetadata(this: ClusterLike): Promise<void>;
  removeBroker(this: ClusterLike, args: { host: string; port: number }): void;
}

type ClusterLike = ClusterPrototype & { [COORDINATORS]?: Map<string, number> };

// kafkajs's internals, loaded through the same module registry kafkajs itself uses (as
// produce-encoding.ts does), so the prototype changed here is the one its producers use.
/* eslint-disable @typescript-eslint/no-require-imports */
const Cluster: { prototype: ClusterPrototype } = require('kafkajs/src/cluster');
const COORDINATOR_TYPES: { TRANSACTION: number } = require('kafkajs/src/protocol/coordinatorTypes');
/* eslint-enable @typescript-eslint/no-require-imports */

const COORDINATORS = Symbol('truceline.transactionCoordinators');
const kafkajs = {
  findGroupCoordinator: Cluster.prototype.findGroupCoordinator,
  refreshMetadata: Cluster.prototype.refreshMetadata,
  removeBroker: Cluster.prototype.removeBroker,
};

/** Turns the kept coordinator on (every process: `createKafka` does it) or off. */
export function keepTransactionCoordinators(on = true): void {
  const prototype = Cluster.prototype;
  if (!on) {
    Object.assign(prototype, kafkajs);
    return;
  }
  prototype.findGroupCoordinator = findGroupCoordinator;
  prototype.refreshMetadata = async function refreshMetadata(this: ClusterLike) {
    this[COORDINATORS]?.clear();
    return kafkajs.refreshMetadata.call(this);
  };
  prototype.removeBroker = function removeBroker(this: ClusterLike, broker) {
    this[COORDINATORS]?.clear();
    kafkajs.removeBroker.call(this, broker);
  };
}

async function findGroupCoordinator(this: ClusterLike, args: FindCoordinatorArgs) {
  if (args.coordinatorType !== COORDINATOR_TYPES.TRANSACTION)
    return kafkajs.findGroupCoordinator.call(this, args);
  const kept = (this[COORDINATORS] ??= new Map<string, number>());
  const nodeId = kept.get(args.groupId);
  if (nodeId !== undefined) {
    try {
      return await this.findBroker({ nodeId });
    } catch (error) {
      kept.delete(args.groupId);
      throw error;
    }
  }
  const broker = await kafkajs.findGroupCoordinator.call(this, args);
  if (typeof broker.nodeId === 'number') kept.set(args.groupId, broker.nodeId);
  return broker;
}

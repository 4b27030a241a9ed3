/**
 * The production ACL layout of Truceline's Kafka (docs/kafka-acls.md): one principal per partner
 * ministry, confined by prefixed ACLs to its own feed topic and consumer groups; the relay, the
 * only writer; the services, readers of the events topic in a group each. The broker runs the
 * KRaft StandardAuthorizer with `allow.everyone.if.no.acl.found=false`, so whatever is not
 * listed here is refused.
 *
 * Every function returns kafkajs ACL entries, ready for `admin.createAcls({ acl })`;
 * `kafkaAclsCommand` renders one principal's entries as arguments of Kafka's `kafka-acls` tool.
 */
import { consumerGroupOf, EVENTS_TOPIC, feedTopic } from '@truceline/messaging';
import { knownPartners, POLICY_V1 } from '@truceline/domain';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ResourcePatternTypes,
  type AclEntry,
} from 'kafkajs';

/** Every topic the relay publishes starts with it: truceline.events.v1, truceline.feed.<p>.v1. */
export const TOPIC_PREFIX = 'truceline.';

/** Transactional ids of the relays (`truceline-relay.<topic>` and their feed variants). */
export const RELAY_TRANSACTIONAL_ID_PREFIX = 'truceline-relay';

/** The service processes that consume truceline.events.v1, each in group `truceline.<service>`. */
export const EVENT_SERVICES = ['verification', 'coalition-tasking', 'notification'] as const;

export interface PrincipalOptions {
  /** `User:<name>` as the broker authenticates it (SCRAM user name, or the mapped mTLS DN). */
  principal?: string;
  /** Client host the ACLs allow; `*` (any) by default. */
  host?: string;
}

/**
 * The topic and group prefix of a partner: `truceline.feed.<p>.`. The trailing dot matters: a
 * partner's prefix never covers another partner's topic or groups.
 */
export function partnerPrefix(partner: string): string {
  return feedTopic(partner).replace(/v1$/, '');
}

/** `User:<lower-case code>` unless told otherwise, e.g. `User:gb`. */
export const partnerPrincipal = (partner: string): string => `User:${partner.toLowerCase()}`;

/**
 * A partner ministry: READ and DESCRIBE on the topics of prefix `truceline.feed.<p>.` (its feed,
 * and any later version of it), READ on the consumer groups of the same prefix. Nothing else:
 * no write, no other partner's feed, no events topic, no group outside its prefix.
 */
export function partnerAcls(partner: string, opts: PrincipalOptions = {}): AclEntry[] {
  const prefix = partnerPrefix(partner);
  const allow = allowFor(opts.principal ?? partnerPrincipal(partner), opts.host);
  return [
    allow(AclResourceTypes.TOPIC, prefix, ResourcePatternTypes.PREFIXED, AclOperationTypes.READ),
    allow(
      AclResourceTypes.TOPIC,
      prefix,
      ResourcePatternTypes.PREFIXED,
      AclOperationTypes.DESCRIBE,
    ),
    allow(AclResourceTypes.GROUP, prefix, ResourcePatternTypes.PREFIXED, AclOperationTypes.READ),
  ];
}

/**
 * The relay (events and feeds): creates, describes and writes the `truceline.` topics, with an
 * idempotent, transactional producer whose transactional ids start with `truceline-relay`.
 */
export function relayAcls(opts: PrincipalOptions = {}): AclEntry[] {
  const allow = allowFor(opts.principal ?? 'User:relay', opts.host);
  const { TOPIC, TRANSACTIONAL_ID, CLUSTER } = AclResourceTypes;
  const { PREFIXED, LITERAL } = ResourcePatternTypes;
  const { WRITE, DESCRIBE, CREATE, IDEMPOTENT_WRITE } = AclOperationTypes;
  return [
    allow(TOPIC, TOPIC_PREFIX, PREFIXED, CREATE),
    allow(TOPIC, TOPIC_PREFIX, PREFIXED, DESCRIBE),
    allow(TOPIC, TOPIC_PREFIX, PREFIXED, WRITE),
    allow(TRANSACTIONAL_ID, RELAY_TRANSACTIONAL_ID_PREFIX, PREFIXED, WRITE),
    allow(TRANSACTIONAL_ID, RELAY_TRANSACTIONAL_ID_PREFIX, PREFIXED, DESCRIBE),
    // Implied by WRITE on a topic since Kafka 3.0; explicit for older brokers and for readers.
    allow(CLUSTER, 'kafka-cluster', LITERAL, IDEMPOTENT_WRITE),
  ];
}

/**
 * A service process: READ and DESCRIBE on `truceline.events.v1`, READ and DESCRIBE on its own
 * group `truceline.<service>` (DESCRIBE for the lag it reports from the committed offsets).
 */
export function serviceAcls(service: string, opts: PrincipalOptions = {}): AclEntry[] {
  const allow = allowFor(opts.principal ?? `User:${service}`, opts.host);
  const group = consumerGroupOf(service);
  const { TOPIC, GROUP } = AclResourceTypes;
  const { LITERAL } = ResourcePatternTypes;
  const { READ, DESCRIBE } = AclOperationTypes;
  return [
    allow(TOPIC, EVENTS_TOPIC, LITERAL, READ),
    allow(TOPIC, EVENTS_TOPIC, LITERAL, DESCRIBE),
    allow(GROUP, group, LITERAL, READ),
    allow(GROUP, group, LITERAL, DESCRIBE),
  ];
}

/** The whole layout: every partner the policy knows of, the relay and the services. */
export function productionAcls(partners: readonly string[] = knownPartners(POLICY_V1)): AclEntry[] {
  return [
    ...partners.flatMap((partner) => partnerAcls(partner)),
    ...relayAcls(),
    ...EVENT_SERVICES.flatMap((service) => serviceAcls(service)),
  ];
}

/**
 * One `kafka-acls --add` invocation per entry (bootstrap and admin credentials left to the
 * caller), e.g. `--add --allow-principal User:gb --allow-host * --operation Read --topic
 * truceline.feed.gb. --resource-pattern-type prefixed`.
 */
export function kafkaAclsCommand(entry: AclEntry): string[] {
  const resource: Partial<Record<AclResourceTypes, string[]>> = {
    [AclResourceTypes.TOPIC]: ['--topic', entry.resourceName],
    [AclResourceTypes.GROUP]: ['--group', entry.resourceName],
    [AclResourceTypes.TRANSACTIONAL_ID]: ['--transactional-id', entry.resourceName],
    [AclResourceTypes.CLUSTER]: ['--cluster'],
  };
  const args = resource[entry.resourceType];
  if (!args || entry.permissionType !== AclPermissionTypes.ALLOW) {
    throw new Error(`no kafka-acls rendering for ${JSON.stringify(entry)}`);
  }
  return [
    '--add',
    '--allow-principal',
    entry.principal,
    '--allow-host',
    entry.host,
    '--operation',
    operationName(entry.operation),
    ...args,
    '--resource-pattern-type',
    entry.resourcePatternType === ResourcePatternTypes.PREFIXED ? 'prefixed' : 'literal',
  ];
}

/**
 * kafka-acls spells operations in PascalCase: IDEMPOTENT_WRITE → IdempotentWrite. (kafkajs's
 * enums are plain objects at run time, without the reverse mapping of a TypeScript enum.)
 */
function operationName(operation: AclOperationTypes): string {
  const name = Object.entries(AclOperationTypes).find(([, value]) => value === operation)?.[0];
  if (!name) throw new Error(`unknown ACL operation ${operation}`);
  return name
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, _sep: string, c: string) => c.toUpperCase());
}

function allowFor(principal: string, host = '*') {
  return (
    resourceType: AclResourceTypes,
    resourceName: string,
    resourcePatternType: ResourcePatternTypes,
    operation: AclOperationTypes,
  ): AclEntry => ({
    resourceType,
    resourceName,
    resourcePatternType,
    principal,
    host,
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  });
}

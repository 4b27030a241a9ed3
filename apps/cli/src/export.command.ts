import { incidentStreamId } from '@truceline/domain';
import { SqlEventStore } from '@truceline/event-store';
import { Ledger } from '@truceline/ledger';
import { FeedProjection, PolicyRegistry } from '@truceline/projections';
import { writeFileSync } from 'node:fs';
import { optionValue, ParsedArgs, rejectUnknownOptions, UsageError } from './args';
import { CliEnvironment, CliError } from './cli-environment';
import type { CliIo } from './cli-io';
import { exerciseClockOf, openLog, signingKey } from './log-access';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What `export` writes and `tools/verify-export.mjs` reads. */
export const EXPORT_FORMAT = 'truceline-export/1';

/**
 * `truceline export INCIDENT_ID --out FILE` (SPEC §9): the incident's events with a signed
 * checkpoint covering them all (signed now when none does yet) and an inclusion proof per
 * event, checkable offline with only the log's public key.
 */
export async function exportCommand(
  args: ParsedArgs,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  rejectUnknownOptions(args, ['out']);
  const [incidentId, ...rest] = args.positionals;
  if (!incidentId) throw new UsageError('export needs INCIDENT_ID');
  if (rest.length > 0) throw new UsageError(`export takes one INCIDENT_ID, not ${rest[0]}`);
  if (!UUID.test(incidentId)) throw new UsageError(`INCIDENT_ID must be a UUID: ${incidentId}`);
  const out = optionValue(args, 'out');
  if (!out) throw new UsageError('export needs --out FILE');
  const signer = signingKey(env);
  if (!signer) {
    throw new CliError(
      "no signing key: set TRUCELINE_SIGNING_KEY to the instance's, or point TRUCELINE_DATA_DIR " +
        'at the data directory of a development instance',
    );
  }
  const sql = await openLog(env);
  try {
    const store = new SqlEventStore(sql);
    const events = await store.readStream(incidentStreamId(incidentId.toLowerCase()));
    if (events.length === 0) throw new CliError(`incident ${incidentId} not found`);
    // A checkpoint signed here goes to every partner's feed as the API's do (SPEC §10).
    const policies = new PolicyRegistry(store);
    await policies.refresh();
    const feeds = new FeedProjection(sql, policies);
    const drillClock = await exerciseClockOf(sql);
    const ledger = new Ledger(sql, store, signer, {
      now: () => drillClock ?? new Date(),
      onCheckpoint: async (tx, checkpoint, position) => {
        await feeds.publishCheckpoint(tx, checkpoint, {
          origin: signer.name,
          position,
          exercise: drillClock !== null,
        });
      },
    });
    const proven = await ledger.prove(events);
    if (!proven || proven.proofs.length !== events.length) {
      throw new CliError('the log could not seal every event of the incident');
    }
    const document = {
      format: EXPORT_FORMAT,
      incidentId: incidentId.toLowerCase(),
      exportedAt: new Date().toISOString(),
      exercise: events.some((e) => e.metadata.exercise === true),
      checkpoint: proven.checkpoint,
      events: proven.proofs,
    };
    writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
    io.out(
      `${out}: ${events.length} events of incident ${document.incidentId} with inclusion ` +
        `proofs against the checkpoint of tree size ${proven.checkpoint.treeSize}` +
        (document.exercise ? ' (EXERCISE data)' : ''),
    );
    io.out(`check it with: node tools/verify-export.mjs ${out} --key ${signer.verifierKey}`);
    return 0;
  } finally {
    await sql.close();
  }
}

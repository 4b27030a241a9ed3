import { StoredEvent } from '@truceline/domain';
import { SqlClient, SqlEventStore } from '@truceline/event-store';
import { leafHashOf } from './leaf';
import { LedgerRepository, SealedLeaf, StoredCheckpoint } from './ledger.repository';
import { MerkleTree } from './merkle/tree';
import { ProofError, verifyConsistency } from './merkle/verify';
import { parseCheckpoint } from './note/checkpoint';
import { NoteError, openNote } from './note/signed-note';
import { NoteVerifier } from './note/signing-key';

/** One thing found wrong, named by the log position (or the checkpoint's tree size). */
export interface LogProblem {
  /** The first position the problem concerns, when there is one. */
  position?: number;
  /** The tree size of the checkpoint concerned, when it is about a checkpoint. */
  checkpoint?: number;
  message: string;
}

export interface LogReport {
  ok: boolean;
  events: number;
  sealed: number;
  /** Committed events the sealer has not reached yet: no checkpoint vouches for them. */
  unsealed: number;
  checkpoints: number;
  problems: LogProblem[];
  /** The smallest position any problem names. */
  firstBadPosition?: number;
  durationMs: number;
}

const BATCH = 5_000;

/**
 * `truceline verify` (SPEC §10): recomputes every leaf from the stored events, rebuilds the
 * tree from the recomputed leaves (never trusting the stored ones), checks every checkpoint's
 * signature with the pinned key and its root against the rebuilt tree, and the consistency of
 * each checkpoint with the one before. Reads through the store's port and the ledger's tables
 * on the SqlClient given (a transaction's, in the tampering test).
 */
export async function verifyLog(sql: SqlClient, verifier: NoteVerifier): Promise<LogReport> {
  const started = performance.now();
  const store = new SqlEventStore(sql);
  const repository = new LedgerRepository(sql);
  const problems: LogProblem[] = [];
  const leaves = await repository.leaves();
  /** Leaf hashes recomputed from the events, in position order, up to the last sealed one. */
  const recomputed: Buffer[] = [];

  // Leaves are matched to events by position, so one deleted or inserted event is named once
  // rather than shifting every comparison after it.
  const leafAt = new Map(leaves.map((leaf) => [leaf.position, leaf]));
  const lastSealed = leaves.length > 0 ? leaves[leaves.length - 1].position : 0;
  const gap = leaves.findIndex((leaf, i) => leaf.leafIndex !== i);
  if (gap >= 0) {
    problems.push({ position: leaves[gap].position, message: `sealed leaf ${gap} is missing` });
  }
  const seen = new Set<number>();
  let events = 0;
  const compare = (event: StoredEvent) => {
    events += 1;
    seen.add(event.position);
    const hash = leafHashOf(event);
    if (event.position <= lastSealed) recomputed.push(hash);
    const leaf: SealedLeaf | undefined = leafAt.get(event.position);
    if (!leaf) {
      if (event.position <= lastSealed) {
        problems.push({ position: event.position, message: 'an event that was never sealed' });
      }
    } else if (!hash.equals(leaf.leafHash)) {
      problems.push({
        position: event.position,
        message: 'the stored event or its leaf hash differs from what was sealed',
      });
    }
  };

  for (let after = 0; ;) {
    const batch = await store.readAll({ after, limit: BATCH });
    batch.forEach(compare);
    if (batch.length < BATCH) break;
    after = batch[batch.length - 1].position;
  }
  for (const leaf of leaves) {
    if (!seen.has(leaf.position)) {
      problems.push({
        position: leaf.position,
        message: 'a sealed event is missing (deleted, or moved to another position)',
      });
    }
  }
  const localized = problems.length > 0;

  // The tree as the events say it should be; only sizes every event of which exists.
  const tree = new MerkleTree(recomputed);
  const checkpoints = await repository.checkpoints();
  let previous: { size: number; root: Buffer } | null = null;
  for (const checkpoint of checkpoints) {
    const problem = checkCheckpoint(checkpoint, verifier, tree, previous);
    if (problem) {
      // An event already named above explains a root that no longer matches: only a change
      // made to an event and its leaf alike is left to the checkpoints to localize.
      const { position, ...rest } = problem;
      const at = localized ? {} : position === undefined ? {} : { position };
      problems.push({ ...rest, ...at, checkpoint: checkpoint.treeSize });
    } else {
      previous = { size: checkpoint.treeSize, root: checkpoint.rootHash };
    }
  }

  const positions = problems.flatMap((p) => (p.position === undefined ? [] : [p.position]));
  return {
    ok: problems.length === 0,
    events,
    sealed: leaves.length,
    unsealed: Math.max(0, events - recomputed.length),
    checkpoints: checkpoints.length,
    problems,
    firstBadPosition: positions.length > 0 ? Math.min(...positions) : undefined,
    durationMs: Math.round(performance.now() - started),
  };
}

function checkCheckpoint(
  checkpoint: StoredCheckpoint,
  verifier: NoteVerifier,
  tree: MerkleTree,
  previous: { size: number; root: Buffer } | null,
): Omit<LogProblem, 'checkpoint'> | null {
  const size = checkpoint.treeSize;
  let text: string;
  try {
    text = openNote(checkpoint.note, verifier);
  } catch (error) {
    if (error instanceof NoteError) {
      return { message: `checkpoint of tree size ${size}: ${error.message}` };
    }
    throw error;
  }
  let body;
  try {
    body = parseCheckpoint(text);
  } catch (error) {
    return { message: `checkpoint of tree size ${size}: ${(error as Error).message}` };
  }
  if (
    body.origin !== verifier.name ||
    body.treeSize !== size ||
    !body.rootHash.equals(checkpoint.rootHash)
  ) {
    return {
      message: `checkpoint of tree size ${size}: the stored row differs from the signed note`,
    };
  }
  if (size > tree.size) {
    return {
      position: tree.size + 1,
      message: `checkpoint of tree size ${size} covers events that are missing`,
    };
  }
  if (!tree.root(size).equals(body.rootHash)) {
    const from = (previous?.size ?? 0) + 1;
    return {
      position: from,
      message: `checkpoint of tree size ${size} does not match the events: an event at a position from ${from} to ${size} was changed`,
    };
  }
  if (previous) {
    try {
      verifyConsistency(
        previous.size,
        size,
        previous.root,
        body.rootHash,
        tree.consistencyProof(previous.size, size),
      );
    } catch (error) {
      if (!(error instanceof ProofError)) throw error;
      return {
        message: `checkpoints of tree sizes ${previous.size} and ${size} are not consistent: ${error.message}`,
      };
    }
  }
  return null;
}

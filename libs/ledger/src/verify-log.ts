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
  const head = await store.headPosition();
  const leaves = await repository.leaves();
  const recomputed: Buffer[] = [];

  let events = 0;
  let index = 0;
  const compare = (event: StoredEvent) => {
    events += 1;
    if (event.position > head) {
      problems.push({ position: event.position, message: 'an event beyond the head of the log' });
    }
    const leaf: SealedLeaf | undefined = leaves[index];
    if (!leaf) return; // not sealed yet
    if (leaf.leafIndex !== index) {
      problems.push({ position: event.position, message: `sealed leaf ${index} is missing` });
    } else if (leaf.position < event.position) {
      problems.push({
        position: leaf.position,
        message: 'a sealed event is missing (deleted, or moved to another position)',
      });
    } else if (leaf.position > event.position) {
      problems.push({ position: event.position, message: 'an event that was never sealed here' });
    } else if (!leafHashOf(event).equals(leaf.leafHash)) {
      problems.push({
        position: event.position,
        message: 'the stored event or its leaf hash differs from what was sealed',
      });
    }
    recomputed.push(leafHashOf(event));
    index += 1;
  };

  for (let after = 0; ;) {
    const batch = await store.readAll({ after, limit: BATCH });
    if (batch.length === 0) break;
    batch.forEach(compare);
    after = batch[batch.length - 1].position;
  }
  if (leaves.length > index) {
    problems.push({
      position: leaves[index].position,
      message: `${leaves.length - index} sealed event(s) missing from the end of the log`,
    });
  }

  // The tree as the events say it should be; only sizes every event of which exists.
  const tree = new MerkleTree(recomputed.slice(0, Math.min(index, leaves.length)));
  const checkpoints = await repository.checkpoints();
  let previous: { size: number; root: Buffer } | null = null;
  for (const checkpoint of checkpoints) {
    const problem = checkCheckpoint(checkpoint, verifier, tree, previous);
    if (problem) {
      problems.push({ ...problem, checkpoint: checkpoint.treeSize });
    } else {
      previous = { size: checkpoint.treeSize, root: checkpoint.rootHash };
    }
  }

  const positions = problems.flatMap((p) => (p.position === undefined ? [] : [p.position]));
  return {
    ok: problems.length === 0,
    events,
    sealed: leaves.length,
    unsealed: Math.max(0, events - leaves.length),
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

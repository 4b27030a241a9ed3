import { HASH_SIZE } from '../merkle/hashes';

/** The body of a C2SP tlog-checkpoint: origin, tree size, base64 root hash, one per line. */
export interface CheckpointBody {
  origin: string;
  treeSize: number;
  rootHash: Buffer;
}

export function formatCheckpoint(body: CheckpointBody): string {
  return `${body.origin}\n${body.treeSize}\n${body.rootHash.toString('base64')}\n`;
}

/** Parses a checkpoint's note text (extension lines, if any, are ignored); throws on bad input. */
export function parseCheckpoint(text: string): CheckpointBody {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') throw new Error('not a checkpoint');
  const [origin, size, root] = lines;
  if (!/^(0|[1-9]\d{0,15})$/.test(size)) throw new Error('the tree size is not a decimal number');
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== HASH_SIZE || rootHash.toString('base64') !== root) {
    throw new Error('the root hash is not base64 of 32 bytes');
  }
  return { origin, treeSize: Number(size), rootHash };
}

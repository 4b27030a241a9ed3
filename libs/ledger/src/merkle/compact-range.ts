import { EMPTY_ROOT, HASH_SIZE } from './hashes';
import { hash } from 'node:crypto';

/**
 * The right edge of a growing tree: the roots of its perfect subtrees, largest first (one per
 * set bit of the size). Enough to append leaves and compute the root without reading the
 * leaves again, so the sealer resumes from one stored row.
 *
 * Nodes are kept as hex and hashed through one scratch buffer: the sealer appends a leaf per
 * event and hashes about one node per leaf, and a Buffer per hash cost more than the hash.
 */
export class CompactRange {
  private constructor(
    private count: number,
    private readonly nodes: string[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** From what `serialize` wrote; throws when the node count does not match the size. */
  static restore(size: number, serialized: Buffer): CompactRange {
    const nodes: string[] = [];
    for (let at = 0; at < serialized.length; at += HASH_SIZE) {
      nodes.push(serialized.toString('hex', at, at + HASH_SIZE));
    }
    if (nodes.length !== bitCount(size) || serialized.length % HASH_SIZE !== 0) {
      throw new Error(`a compact range of size ${size} needs ${bitCount(size)} nodes`);
    }
    return new CompactRange(size, nodes);
  }

  /** An independent copy: appending to it leaves this one as it was. */
  copy(): CompactRange {
    return new CompactRange(this.count, [...this.nodes]);
  }

  get size(): number {
    return this.count;
  }

  append(leafHash: Buffer): void {
    this.appendHex(leafHash.toString('hex'));
  }

  /** append, for a leaf hash given as 64 hex digits. */
  appendHex(leafHash: string): void {
    let node = leafHash;
    // Each trailing 1 bit of the size is a perfect subtree the new leaf completes.
    for (let n = this.count; n % 2 === 1; n = Math.floor(n / 2)) {
      node = hashChildrenHex(this.nodes.pop() as string, node);
    }
    this.nodes.push(node);
    this.count += 1;
  }

  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let root = this.nodes[this.nodes.length - 1];
    for (let i = this.nodes.length - 2; i >= 0; i--) root = hashChildrenHex(this.nodes[i], root);
    return Buffer.from(root, 'hex');
  }

  serialize(): Buffer {
    return Buffer.from(this.nodes.join(''), 'hex');
  }
}

/** 0x01 ‖ left ‖ right, rewritten in place for each node hash (see hashChildren). */
const scratch = Buffer.alloc(1 + 2 * HASH_SIZE, 1);

function hashChildrenHex(left: string, right: string): string {
  if (
    scratch.write(left, 1, 'hex') + scratch.write(right, 1 + HASH_SIZE, 'hex') !==
    2 * HASH_SIZE
  ) {
    throw new Error('a node hash is 32 bytes');
  }
  return hash('sha256', scratch, 'hex');
}

function bitCount(n: number): number {
  let bits = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) bits += rest % 2;
  return bits;
}

import { EMPTY_ROOT, hashChildren, HASH_SIZE } from './hashes';

/**
 * The right edge of a growing tree: the roots of its perfect subtrees, largest first (one per
 * set bit of the size). Enough to append leaves and compute the root without reading the
 * leaves again, so the sealer resumes from one stored row.
 */
export class CompactRange {
  private constructor(
    private count: number,
    private readonly nodes: Buffer[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** From what `serialize` wrote; throws when the node count does not match the size. */
  static restore(size: number, serialized: Buffer): CompactRange {
    const nodes: Buffer[] = [];
    for (let at = 0; at < serialized.length; at += HASH_SIZE) {
      nodes.push(Buffer.from(serialized.subarray(at, at + HASH_SIZE)));
    }
    if (nodes.length !== bitCount(size) || serialized.length % HASH_SIZE !== 0) {
      throw new Error(`a compact range of size ${size} needs ${bitCount(size)} nodes`);
    }
    return new CompactRange(size, nodes);
  }

  get size(): number {
    return this.count;
  }

  append(leafHash: Buffer): void {
    let node = leafHash;
    // Each trailing 1 bit of the size is a perfect subtree the new leaf completes.
    for (let n = this.count; n % 2 === 1; n = Math.floor(n / 2)) {
      node = hashChildren(this.nodes.pop() as Buffer, node);
    }
    this.nodes.push(node);
    this.count += 1;
  }

  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let root = this.nodes[this.nodes.length - 1];
    for (let i = this.nodes.length - 2; i >= 0; i--) root = hashChildren(this.nodes[i], root);
    return root;
  }

  serialize(): Buffer {
    return Buffer.concat(this.nodes);
  }
}

function bitCount(n: number): number {
  let bits = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) bits += rest % 2;
  return bits;
}

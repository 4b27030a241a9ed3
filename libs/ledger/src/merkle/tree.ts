import { EMPTY_ROOT, hashChildren, splitPoint } from './hashes';

/**
 * A Merkle tree in the manner of RFC 9162 §2.1 over a list of leaf hashes, with every perfect
 * aligned subtree hashed once (level h holds the roots of the subtrees of 2^h leaves). Every
 * root, inclusion proof (§2.1.3) and consistency proof (§2.1.4) for a size ≤ the number of
 * leaves is then a walk of O(log n) lookups, because the split of the RFC's recursion always
 * leaves a perfect aligned subtree on the left.
 */
export class MerkleTree {
  private readonly levels: Buffer[][];

  constructor(leafHashes: readonly Buffer[] = []) {
    this.levels = [[]];
    this.append(leafHashes);
  }

  /** Adds leaves at the end, hashing only the subtrees they complete. */
  append(leafHashes: readonly Buffer[]): void {
    this.levels[0].push(...leafHashes);
    for (let h = 0; this.levels[h].length > 1; h++) {
      const level = this.levels[h];
      const next = (this.levels[h + 1] ??= []);
      for (let i = next.length * 2; i + 1 < level.length; i += 2) {
        next.push(hashChildren(level[i], level[i + 1]));
      }
    }
  }

  get size(): number {
    return this.levels[0].length;
  }

  leaf(index: number): Buffer {
    this.checkSize(index + 1);
    return this.levels[0][index];
  }

  /** MTH(D[0:size]). */
  root(size = this.size): Buffer {
    this.checkSize(size);
    return size === 0 ? EMPTY_ROOT : this.hash(0, size);
  }

  /** PATH(index, D[0:size]): the audit path of one leaf, from the leaf up. */
  inclusionProof(index: number, size = this.size): Buffer[] {
    this.checkSize(size);
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      throw new RangeError(`leaf index ${index} is outside a tree of ${size} leaves`);
    }
    return this.path(index, 0, size);
  }

  /** PROOF(from, D[0:to]): the consistency proof between two sizes (empty when from is 0 or to). */
  consistencyProof(from: number, to = this.size): Buffer[] {
    this.checkSize(to);
    if (!Number.isInteger(from) || from < 0 || from > to) {
      throw new RangeError(`no consistency proof from size ${from} to size ${to}`);
    }
    if (from === 0 || from === to) return [];
    return this.subproof(from, 0, to, true);
  }

  /** MTH(D[start:end]). */
  private hash(start: number, end: number): Buffer {
    const n = end - start;
    if (n === 1) return this.levels[0][start];
    const height = Math.log2(n);
    if (Number.isInteger(height) && start % n === 0) return this.levels[height][start / n];
    const k = splitPoint(n);
    return hashChildren(this.hash(start, start + k), this.hash(start + k, end));
  }

  private path(index: number, start: number, end: number): Buffer[] {
    const n = end - start;
    if (n === 1) return [];
    const k = splitPoint(n);
    return index < start + k
      ? [...this.path(index, start, start + k), this.hash(start + k, end)]
      : [...this.path(index, start + k, end), this.hash(start, start + k)];
  }

  /** SUBPROOF(m, D[start:end], b) of RFC 9162 §2.1.4.1. */
  private subproof(m: number, start: number, end: number, whole: boolean): Buffer[] {
    const n = end - start;
    if (m === n) return whole ? [] : [this.hash(start, end)];
    const k = splitPoint(n);
    return m <= k
      ? [...this.subproof(m, start, start + k, whole), this.hash(start + k, end)]
      : [...this.subproof(m - k, start + k, end, false), this.hash(start, start + k)];
  }

  private checkSize(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`tree size ${size} is outside 0..${this.size}`);
    }
  }
}

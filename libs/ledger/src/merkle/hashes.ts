import { createHash, hash } from 'node:crypto';

/** RFC 9162 §2.1.1: the hash of a leaf, SHA-256(0x00 ‖ data). */
export function hashLeaf(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** hashLeaf of the UTF-8 bytes of `text`, as hex: one call, no Buffer (a leaf per event). */
export function hashLeafHex(text: string): string {
  return hash('sha256', '\u0000' + text, 'hex');
}

/** RFC 9162 §2.1.1: the hash of an interior node, SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** MTH({}) = SHA-256() — the root of the empty tree. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** The largest power of two strictly smaller than n (n ≥ 2), the split point of RFC 9162. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

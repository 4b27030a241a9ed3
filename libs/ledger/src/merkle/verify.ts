import { HASH_SIZE, hashChildren } from './hashes';

/** Why a proof did not verify, as a sentence for the person reading the report. */
export class ProofError extends Error {
  override name = 'ProofError';
}

/**
 * RFC 9162 §2.1.3.2: the root an inclusion proof leads to from a leaf hash. Throws ProofError
 * when the proof cannot belong to a leaf `index` of a tree of `size` leaves.
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new ProofError(`leaf index ${index} is outside a tree of ${size} leaves`);
  }
  checkHashes(leafHash, proof);
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0) throw new ProofError('the inclusion proof is longer than the path');
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new ProofError('the inclusion proof is shorter than the path');
  return r;
}

export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  const computed = rootFromInclusionProof(index, size, leafHash, proof);
  if (!computed.equals(root)) {
    throw new ProofError(`the inclusion proof of leaf ${index} does not lead to the root`);
  }
}

/** RFC 9162 §2.1.4.2: throws ProofError unless `proof` shows tree `size2` extends tree `size1`. */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) {
    throw new ProofError(`no consistency from size ${size1} to size ${size2}`);
  }
  checkHashes(root1, proof);
  checkHashes(root2, []);
  if (size1 === size2) {
    if (proof.length > 0) throw new ProofError('a proof between equal sizes must be empty');
    if (!Buffer.from(root1).equals(root2)) throw new ProofError('equal sizes with different roots');
    return;
  }
  if (size1 === 0) {
    if (proof.length > 0) throw new ProofError('a proof from the empty tree must be empty');
    return;
  }
  if (proof.length === 0) throw new ProofError('the consistency proof is empty');
  // Step 1: when size1 is a power of two, its root is the implicit first element.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = Buffer.from(path[0]);
  for (const c of path.slice(1)) {
    if (sn === 0) throw new ProofError('the consistency proof is longer than expected');
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new ProofError('the consistency proof is shorter than expected');
  if (!fr.equals(root1))
    throw new ProofError(`the proof does not lead to the root of size ${size1}`);
  if (!sr.equals(root2))
    throw new ProofError(`the proof does not lead to the root of size ${size2}`);
}

const isPowerOfTwo = (n: number): boolean => Number.isInteger(Math.log2(n));

function checkHashes(hash: Uint8Array, proof: readonly Uint8Array[]): void {
  if (hash.length !== HASH_SIZE || proof.some((p) => p.length !== HASH_SIZE)) {
    throw new ProofError(`every hash must be ${HASH_SIZE} bytes`);
  }
}

import vectors from '../testdata/merkle-vectors.json';
import { CompactRange } from './compact-range';
import { EMPTY_ROOT, hashLeaf } from './hashes';
import { MerkleTree } from './tree';
import { ProofError, verifyConsistency, verifyInclusion } from './verify';

const hex = (h: string) => Buffer.from(h, 'hex');
const leaves = vectors.leaves.map((leaf) => hashLeaf(hex(leaf)));
const root = (size: number) => hex(vectors.roots[size - 1]);

describe(MerkleTree.name, () => {
  const sut = new MerkleTree(leaves);

  it('computes the published roots of every prefix of the reference tree', () => {
    expect(new MerkleTree([]).root().toString('hex')).toBe(vectors.emptyRoot);
    expect(EMPTY_ROOT.toString('hex')).toBe(vectors.emptyRoot);
    for (let size = 1; size <= 8; size++) {
      expect(sut.root(size).toString('hex')).toBe(vectors.roots[size - 1]);
    }
  });

  it.each(vectors.inclusion)('builds the published inclusion proof of leaf $leaf in $size', (v) => {
    expect(sut.inclusionProof(v.leaf - 1, v.size).map((h) => h.toString('hex'))).toEqual(v.proof);
  });

  it.each(vectors.consistency)('builds the published consistency proof $size1 → $size2', (v) => {
    expect(sut.consistencyProof(v.size1, v.size2).map((h) => h.toString('hex'))).toEqual(v.proof);
  });

  it('refuses sizes and indexes outside the tree', () => {
    expect(() => sut.root(9)).toThrow(RangeError);
    expect(() => sut.inclusionProof(8, 8)).toThrow(RangeError);
    expect(() => sut.consistencyProof(5, 4)).toThrow(RangeError);
  });
});

describe(verifyInclusion.name, () => {
  it.each(vectors.inclusion)('accepts the published proof of leaf $leaf in $size', (v) => {
    expect(() =>
      verifyInclusion(v.leaf - 1, v.size, leaves[v.leaf - 1], v.proof.map(hex), root(v.size)),
    ).not.toThrow();
  });

  it.each(vectors.inclusion.filter((v) => v.proof.length > 0))(
    'refuses every corruption of the proof of leaf $leaf in $size',
    (v) => {
      const proof = v.proof.map(hex);
      const leaf = leaves[v.leaf - 1];
      const index = v.leaf - 1;
      const flipped = proof.map((_, i) =>
        proof.map((h, j) => (i === j ? Buffer.from(h.map((b, k) => (k === 0 ? b ^ 8 : b))) : h)),
      );
      const probes: [number, number, Buffer, Buffer[], Buffer][] = [
        [index + 1, v.size, leaf, proof, root(v.size)],
        [index ^ 2, v.size, leaf, proof, root(v.size)],
        [index, v.size * 2, leaf, proof, root(v.size)],
        [index, v.size, hashLeaf(Buffer.from('WrongLeaf')), proof, root(v.size)],
        [index, v.size, leaf, proof, EMPTY_ROOT],
        [index, v.size, leaf, [...proof, root(v.size)], root(v.size)],
        [index, v.size, leaf, [root(v.size), ...proof], root(v.size)],
        [index, v.size, leaf, proof.slice(0, -1), root(v.size)],
        ...flipped.map((p): [number, number, Buffer, Buffer[], Buffer] => [
          index,
          v.size,
          leaf,
          p,
          root(v.size),
        ]),
      ];
      for (const probe of probes) expect(() => verifyInclusion(...probe)).toThrow(ProofError);
    },
  );
});

describe(verifyConsistency.name, () => {
  it.each(vectors.consistency)('accepts the published proof $size1 → $size2', (v) => {
    expect(() =>
      verifyConsistency(v.size1, v.size2, root(v.size1), root(v.size2), v.proof.map(hex)),
    ).not.toThrow();
  });

  it.each(vectors.consistency.filter((v) => v.proof.length > 0))(
    'refuses every corruption of the proof $size1 → $size2',
    (v) => {
      const proof = v.proof.map(hex);
      const [r1, r2] = [root(v.size1), root(v.size2)];
      const probes: [number, number, Buffer, Buffer, Buffer[]][] = [
        [v.size1 - 1, v.size2, r1, r2, proof],
        [v.size1 + 1, v.size2, r1, r2, proof],
        [v.size1, v.size2 * 2, r1, r2, proof],
        [v.size1, v.size2, r2, r1, proof],
        [v.size1, v.size2, r1, r2, []],
        [v.size1, v.size2, r1, r2, [...proof, r1]],
        [v.size1, v.size2, r1, r2, [proof[0], ...proof]],
        [v.size1, v.size2, r1, r2, proof.slice(0, -1)],
      ];
      for (const probe of probes) expect(() => verifyConsistency(...probe)).toThrow(ProofError);
    },
  );

  it('agrees with the tree on every pair of sizes up to 70, and refuses a wrong root', () => {
    const many = Array.from({ length: 70 }, (_, i) => hashLeaf(Buffer.from([i])));
    const tree = new MerkleTree(many);
    for (let m = 1; m <= 70; m++) {
      for (let n = m; n <= 70; n++) {
        const proof = tree.consistencyProof(m, n);
        verifyConsistency(m, n, tree.root(m), tree.root(n), proof);
        if (m < n) {
          expect(() => verifyConsistency(m, n, tree.root(m), tree.root(n - 1), proof)).toThrow();
        }
      }
      for (let i = 0; i < m; i++)
        verifyInclusion(i, m, many[i], tree.inclusionProof(i, m), tree.root(m));
    }
  });
});

describe(CompactRange.name, () => {
  it('grows to the same roots as the whole tree, and survives a round trip', () => {
    let sut = CompactRange.empty();
    expect(sut.root()).toEqual(EMPTY_ROOT);
    leaves.forEach((leaf, i) => {
      sut.append(leaf);
      expect(sut.root()).toEqual(root(i + 1));
      sut = CompactRange.restore(sut.size, sut.serialize());
    });
    expect(() => CompactRange.restore(7, Buffer.alloc(32))).toThrow();
  });
});

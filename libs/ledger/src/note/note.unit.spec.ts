import vectors from '../testdata/signed-note-vectors.json';
import { formatCheckpoint, parseCheckpoint } from './checkpoint';
import { NoteError, openNote, signNote } from './signed-note';
import {
  generateSigningKey,
  parseSigningKey,
  parseVerifierKey,
  SigningKeyError,
} from './signing-key';

describe(signNote.name, () => {
  it('signs the reference example byte for byte as Go does, and opens it', () => {
    const signer = parseSigningKey(vectors.signerKey);

    expect(signer.verifierKey).toBe(vectors.verifierKey);
    expect(signNote(vectors.text, signer)).toBe(vectors.signedNote);
    expect(openNote(vectors.signedNote, parseVerifierKey(vectors.verifierKey))).toBe(vectors.text);
  });

  it('refuses a changed text, a changed signature and another key', () => {
    const verifier = parseVerifierKey(vectors.verifierKey);
    const other = parseVerifierKey(parseSigningKey(generateSigningKey('PeterNeumann')).verifierKey);

    expect(() => openNote(vectors.signedNote.replace('problem,', 'problem;'), verifier)).toThrow(
      NoteError,
    );
    expect(() => openNote(vectors.signedNote.replace('x08go', 'x08gp'), verifier)).toThrow(
      NoteError,
    );
    expect(() => openNote(vectors.signedNote, other)).toThrow(NoteError);
  });
});

describe(parseSigningKey.name, () => {
  it('refuses mangled keys', () => {
    const key = vectors.signerKey;
    for (const bad of [
      key.slice(1),
      key.slice(0, -1),
      key.replace('c74f20a3', 'c74f20a4'),
      key.replace('+AY', '+AZ'),
      'PRIVATE+KEY+a b+00000000+AQ==',
    ]) {
      expect(() => parseSigningKey(bad)).toThrow(SigningKeyError);
    }
    expect(() => parseVerifierKey(vectors.verifierKey.replace('+AR', '+AS'))).toThrow(
      SigningKeyError,
    );
  });

  it('generates keys that parse and sign', () => {
    const sut = parseSigningKey(generateSigningKey('truceline/test'));
    const note = signNote('hello\n', sut);
    expect(openNote(note, parseVerifierKey(sut.verifierKey))).toBe('hello\n');
  });
});

describe(parseCheckpoint.name, () => {
  it('round-trips the C2SP checkpoint body', () => {
    const body = { origin: 'truceline/test', treeSize: 42, rootHash: Buffer.alloc(32, 7) };
    const text = formatCheckpoint(body);
    expect(text).toBe(`truceline/test\n42\n${Buffer.alloc(32, 7).toString('base64')}\n`);
    expect(parseCheckpoint(text)).toEqual(body);
    expect(() => parseCheckpoint('truceline/test\n042\nAA==\n')).toThrow();
  });
});

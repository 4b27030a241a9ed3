import { NoteSigner, NoteVerifier } from './signing-key';

/**
 * Signed notes (C2SP signed-note): the text, a blank line, then one line per signature,
 * `— <key name> <base64(key id ‖ signature)>`. The text must end with a newline; the
 * signature covers exactly the text.
 */
export function signNote(text: string, signer: NoteSigner): string {
  if (!text.endsWith('\n') || text.includes('\n\n')) {
    throw new Error('a note text ends with a newline and has no blank line');
  }
  const signature = signer.sign(Buffer.from(text, 'utf8'));
  const encoded = Buffer.concat([signer.keyId, signature]).toString('base64');
  return `${text}\n— ${signer.name} ${encoded}\n`;
}

export class NoteError extends Error {
  override name = 'NoteError';
}

/** The text of a signed note when `verifier` signed it; throws NoteError otherwise. */
export function openNote(note: string, verifier: NoteVerifier): string {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new NoteError('not a signed note');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  for (const line of lines) {
    const match = /^— (\S+) ([A-Za-z0-9+/]+=*)$/.exec(line);
    if (!match) throw new NoteError('malformed signature line');
    const [, name, encoded] = match;
    const raw = Buffer.from(encoded, 'base64');
    if (name !== verifier.name || raw.length < 4 || !raw.subarray(0, 4).equals(verifier.keyId)) {
      continue; // a signature by another key (a witness, say): not ours to check
    }
    if (!verifier.verify(Buffer.from(text, 'utf8'), raw.subarray(4))) {
      throw new NoteError(`the signature of ${name} does not verify`);
    }
    return text;
  }
  throw new NoteError(`no signature by ${verifier.name}`);
}

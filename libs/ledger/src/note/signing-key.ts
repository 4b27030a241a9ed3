import {
  createHash,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';

/**
 * Ed25519 keys in the text forms of Go's golang.org/x/mod/sumdb/note, which C2SP signed notes
 * use: `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>` for the signer and
 * `<name>+<hash>+<base64(0x01 ‖ public key)>` for the verifier ("vkey"), where hash is the first
 * four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), in hex. The name is the log's origin.
 */
export interface NoteSigner {
  readonly name: string;
  /** The 4-byte key id that prefixes every signature. */
  readonly keyId: Buffer;
  /** The verifier key in vkey form, the string partners pin. */
  readonly verifierKey: string;
  sign(message: Buffer): Buffer;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  verify(message: Buffer, signature: Buffer): boolean;
}

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

const ED25519 = 0x01;
const SIGNER_PREFIX = 'PRIVATE+KEY+';

/** A note key name: printable, no '+', no whitespace (the note format's rule). */
export const isKeyName = (name: string): boolean => /^[\x21-\x2a\x2c-\x7e]+$/.test(name);

/** The origin Truceline signs under (SPEC §10: `truceline/<deployment>`). */
export const isTrucelineOrigin = (name: string): boolean =>
  /^truceline\/[A-Za-z0-9._-]{1,64}$/.test(name);

export function keyIdOf(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(name)
    .update('\n')
    .update(Buffer.from([ED25519]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** Parses a `PRIVATE+KEY+…` signer key; throws SigningKeyError saying what is wrong. */
export function parseSigningKey(text: string): NoteSigner {
  const trimmed = text.trim();
  if (!trimmed.startsWith(SIGNER_PREFIX)) {
    throw new SigningKeyError(
      `must be an Ed25519 note signer key: ${SIGNER_PREFIX}<name>+<hash>+<key>`,
    );
  }
  const { name, keyId, key } = splitKey(trimmed.slice(SIGNER_PREFIX.length));
  if (key.length !== 32) throw new SigningKeyError('the Ed25519 seed must be 32 bytes');
  const privateKey = privateKeyOf(key);
  const publicKey = rawPublicKey(privateKey);
  if (!keyIdOf(name, publicKey).equals(keyId)) {
    throw new SigningKeyError('the key hash does not match the name and key');
  }
  return {
    name,
    keyId,
    verifierKey: formatVerifierKey(name, publicKey),
    sign: (message) => sign(null, message, privateKey),
  };
}

/** Parses a verifier key (vkey); throws SigningKeyError saying what is wrong. */
export function parseVerifierKey(text: string): NoteVerifier {
  const { name, keyId, key } = splitKey(text.trim());
  if (key.length !== 32) throw new SigningKeyError('the Ed25519 public key must be 32 bytes');
  if (!keyIdOf(name, key).equals(keyId)) {
    throw new SigningKeyError('the key hash does not match the name and key');
  }
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: key.toString('base64url') },
    format: 'jwk',
  });
  return {
    name,
    keyId,
    verify: (message, signature) =>
      signature.length === 64 && verify(null, message, publicKey, signature),
  };
}

/** A new signer key for `name`, as `note.GenerateKey` would write it. */
export function generateSigningKey(name: string): string {
  if (!isKeyName(name)) throw new SigningKeyError(`not a valid key name: ${name}`);
  const seed = randomBytes(32);
  const publicKey = rawPublicKey(privateKeyOf(seed));
  const id = keyIdOf(name, publicKey).toString('hex');
  return `${SIGNER_PREFIX}${name}+${id}+${Buffer.concat([Buffer.from([ED25519]), seed]).toString('base64')}`;
}

function formatVerifierKey(name: string, publicKey: Buffer): string {
  const id = keyIdOf(name, publicKey).toString('hex');
  return `${name}+${id}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString('base64')}`;
}

function splitKey(text: string): { name: string; keyId: Buffer; key: Buffer } {
  // The key data is base64 and may itself contain '+': only the first two separate fields.
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw new SigningKeyError('must have the form <name>+<hash>+<key>');
  const [name, hash, data] = [
    text.slice(0, first),
    text.slice(first + 1, second),
    text.slice(second + 1),
  ];
  if (!isKeyName(name)) throw new SigningKeyError(`not a valid key name: ${name}`);
  if (!/^[0-9a-f]{8}$/.test(hash)) throw new SigningKeyError('the key hash must be 8 hex digits');
  if (!/^[A-Za-z0-9+/]+=*$/.test(data)) throw new SigningKeyError('the key must be base64');
  const raw = Buffer.from(data, 'base64');
  if (raw[0] !== ED25519)
    throw new SigningKeyError('only Ed25519 keys (algorithm 1) are supported');
  return { name, keyId: Buffer.from(hash, 'hex'), key: raw.subarray(1) };
}

function privateKeyOf(seed: Buffer): KeyObject {
  // PKCS #8 wrapping of a raw Ed25519 seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

function rawPublicKey(privateKey: KeyObject): Buffer {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url');
}

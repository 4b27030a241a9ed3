#!/usr/bin/env node
// Checks a `truceline export` file offline, as a partner ministry would: the checkpoint's
// Ed25519 signature (C2SP signed note) against the pinned public key, then every event's leaf
// (SHA-256 of 0x00 and the RFC 8785 canonical JSON of its envelope) and its RFC 9162 inclusion
// proof against the checkpoint's root. One file, plain Node, nothing of the project imported.
//
//   node tools/verify-export.mjs FILE --key VKEY
//
// VKEY is the log's public key as GET /v1/log/checkpoint shows it (`<name>+<hash>+<key>`).
// Exit 0 when everything holds, 1 naming what failed, 2 for a usage error.
import { Buffer } from 'node:buffer';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import process from 'node:process';

const USAGE = 'usage: node tools/verify-export.mjs FILE --key VKEY';
const SEALED_FIELDS = [
  'id',
  'type',
  'schemaVersion',
  'streamId',
  'revision',
  'position',
  'occurredAt',
  'recordedAt',
  'data',
  'metadata',
];

class Failure extends Error {}

const sha256 = (...parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const hashLeaf = (data) => sha256(Buffer.from([0]), data);
const hashChildren = (left, right) => sha256(Buffer.from([1]), left, right);

/** RFC 8785: keys sorted by UTF-16 code units, numbers and strings as ECMAScript prints them. */
function canonical(value) {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Failure('not JSON');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => value[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
}

function parseVerifierKey(text) {
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first <= 0 || second < 0) throw new Failure('the key is not a vkey (<name>+<hash>+<key>)');
  const name = text.slice(0, first);
  const hash = text.slice(first + 1, second);
  const raw = Buffer.from(text.slice(second + 1), 'base64');
  if (!/^[0-9a-f]{8}$/.test(hash) || raw.length !== 33 || raw[0] !== 1) {
    throw new Failure('the key is not an Ed25519 vkey');
  }
  const keyId = sha256(Buffer.from(`${name}\n`), raw).subarray(0, 4);
  if (keyId.toString('hex') !== hash) throw new Failure('the key hash does not match the key');
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.subarray(1).toString('base64url') },
    format: 'jwk',
  });
  return { name, keyId, publicKey };
}

/** The signed text of a C2SP note when the key signed it. */
function openNote(note, key) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new Failure('the checkpoint is not a signed note');
  const text = note.slice(0, split + 1);
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/]+=*)$/.exec(line);
    if (!match) throw new Failure('the checkpoint has a malformed signature line');
    const signature = Buffer.from(match[2], 'base64');
    if (match[1] !== key.name || !signature.subarray(0, 4).equals(key.keyId)) continue;
    if (!verify(null, Buffer.from(text), key.publicKey, signature.subarray(4))) {
      throw new Failure(`the checkpoint's signature by ${key.name} does not verify`);
    }
    return text;
  }
  throw new Failure(`the checkpoint carries no signature by ${key.name}`);
}

/** RFC 9162 §2.1.3.2. */
function rootFromInclusionProof(index, size, leafHash, proof) {
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new Failure(`leaf index ${index} is outside the tree of ${size}`);
  }
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (p.length !== 32) throw new Failure('a proof hash is not 32 bytes');
    if (sn === 0) throw new Failure('the inclusion proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Failure('the inclusion proof is too short');
  return r;
}

function check(file, vkey) {
  const key = parseVerifierKey(vkey);
  let document;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Failure(`cannot read ${file}: ${error.message}`);
  }
  if (document?.format !== 'truceline-export/1') throw new Failure('not a Truceline export');
  const text = openNote(String(document.checkpoint?.checkpoint ?? ''), key);
  const [origin, size, root, ...rest] = text.split('\n');
  if (origin !== key.name) throw new Failure(`the checkpoint is of ${origin}, not ${key.name}`);
  if (!/^(0|[1-9]\d*)$/.test(size) || rest.at(-1) !== '') {
    throw new Failure('the checkpoint is not a C2SP checkpoint');
  }
  const treeSize = Number(size);
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== 32) throw new Failure('the checkpoint root is not 32 bytes');
  if (!Array.isArray(document.events) || document.events.length === 0) {
    throw new Failure('the export lists no events');
  }
  const failures = [];
  for (const entry of document.events) {
    const event = entry?.event ?? {};
    const name = `event ${event.id} at position ${event.position}`;
    try {
      const envelope = Object.fromEntries(SEALED_FIELDS.map((f) => [f, event[f]]));
      const leafHash = hashLeaf(Buffer.from(canonical(envelope), 'utf8'));
      if (entry.leafHash !== undefined && entry.leafHash !== leafHash.toString('base64')) {
        throw new Failure('its content does not match its leaf hash');
      }
      const proof = (entry.inclusionProof ?? []).map((h) => Buffer.from(String(h), 'base64'));
      if (!rootFromInclusionProof(entry.leafIndex, treeSize, leafHash, proof).equals(rootHash)) {
        throw new Failure("its inclusion proof does not lead to the checkpoint's root");
      }
    } catch (error) {
      if (!(error instanceof Failure)) throw error;
      failures.push(`${name}: ${error.message}`);
    }
  }
  if (failures.length > 0) throw new Failure(failures.join('\n  '));
  return { events: document.events.length, treeSize, origin, exercise: document.exercise === true };
}

const args = process.argv.slice(2);
const keyAt = args.indexOf('--key');
const vkey = keyAt >= 0 ? args[keyAt + 1] : undefined;
const files = args.filter((_, i) => i !== keyAt && i !== keyAt + 1);
if (!vkey || files.length !== 1 || files[0].startsWith('--')) {
  console.error(USAGE);
  process.exit(2);
}
try {
  const result = check(files[0], vkey);
  console.log(
    `OK: ${result.events} events, each included in the checkpoint of tree size ` +
      `${result.treeSize} signed by ${result.origin}${result.exercise ? ' (EXERCISE data)' : ''}`,
  );
} catch (error) {
  if (!(error instanceof Failure)) throw error;
  console.error(`FAILED: ${error.message}`);
  process.exit(1);
}

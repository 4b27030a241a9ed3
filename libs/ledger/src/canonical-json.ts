import canonicalize from 'canonicalize';

/**
 * RFC 8785 (JCS) canonical JSON. The canonicalize package is the general implementation; this
 * module adds a direct path for the values the sealer meets on every event — JSON as
 * JSON.parse builds it: null, booleans, finite numbers, well-formed strings, arrays and objects
 * of the plain prototypes. On those the package does what this does (keys sorted by UTF-16 code
 * units with the default sort, strings and numbers as JSON.stringify prints them), without its
 * cycle set, toJSON look-ups and frames: about a third of its cost. Any other value (a Date, a
 * toJSON, undefined, a lone surrogate, NaN…) goes to the package whole, so the two never
 * disagree; canonical-json.unit.spec.ts checks both against the RFC's published vectors and
 * against each other on random JSON.
 */
export function canonicalJson(value: unknown): string | undefined {
  return plainJson(value) ?? canonicalize(value);
}

/** JCS of plain JSON, or undefined at the first value that is not (the package then decides). */
export function plainJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value) ? JSON.stringify(value) : undefined;
    case 'number':
      return Number.isFinite(value) ? String(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return plainArray(value);
      return Object.getPrototypeOf(value) === Object.prototype
        ? plainObject(value as Record<string, unknown>)
        : undefined;
    default:
      return undefined;
  }
}

function plainArray(array: unknown[]): string | undefined {
  if (Object.getPrototypeOf(array) !== Array.prototype) return undefined;
  let text = '[';
  for (let i = 0; i < array.length; i++) {
    const item = plainJson(array[i]);
    if (item === undefined) return undefined;
    text += i === 0 ? item : ',' + item;
  }
  return text + ']';
}

function plainObject(object: Record<string, unknown>): string | undefined {
  const keys = Object.keys(object).sort();
  let text = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = memberKey(keys[i]);
    const member = plainJson(object[keys[i]]);
    if (member === undefined || key === undefined) return undefined;
    text += (i === 0 ? key : ',' + key) + member;
  }
  return text + '}';
}

/**
 * `"key":` for a member, remembered: events of one type repeat the same few dozen keys, and
 * quoting each anew was a good part of the work. Bounded, so odd data cannot grow it for ever.
 */
const memberKeys = new Map<string, string>();
const MEMBER_KEYS_KEPT = 4_096;

function memberKey(key: string): string | undefined {
  let text = memberKeys.get(key);
  if (text === undefined) {
    if (!isWellFormed(key)) return undefined;
    text = JSON.stringify(key) + ':';
    if (memberKeys.size < MEMBER_KEYS_KEPT) memberKeys.set(key, text);
  }
  return text;
}

/** ES2024's String.prototype.isWellFormed (Node 20+; the project compiles against ES2023's lib). */
const isWellFormed = (text: string): boolean =>
  (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * The textual rules the API enforces, kept in one place so the validators and the OpenAPI
 * document state the same pattern (SPEC §6: a client generated from the document never sends
 * what the server refuses as malformed). Patterns are ECMAScript, as JSON Schema's.
 */

/** Incident and event ids: UUIDs of versions 1 to 8 (RFC 9562). */
export const UUID =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$/;

export const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** Idempotency-Key, X-Correlation-Id: 1 to 200 visible ASCII characters, inner spaces allowed. */
export const HEADER_TOKEN = /^[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?$/;

/** `If-Match`: one revision, quoted or not, possibly weak; or `*`. */
export const IF_MATCH = /^(?:\*|(?:W\/)?(?:"[0-9]{1,15}"|[0-9]{1,15}))$/;

/** `Last-Event-ID` of the feed stream: a seq (empty means none). */
export const LAST_EVENT_ID = /^(?:[0-9]{1,15})?$/;

/** The cursor of the incident list: opaque to clients, `nextCursor` of the previous page. */
export const CURSOR = /^p[0-9]{1,15}$/;

/**
 * Free text: not blank, and storable — no NUL and no unpaired surrogate, which PostgreSQL's
 * JSON and text types cannot hold. Unicode mode: a paired surrogate is one code point.
 */
// eslint-disable-next-line no-control-regex -- NUL is the character refused
export const TEXT = /^(?!\s*$)[^\u0000\uD800-\uDFFF]*$/u;

/**
 * An instant as the document states it (RFC 3339 with seconds, fraction up to nanoseconds and
 * an offset). The server also takes an instant without seconds, so this is the stricter form.
 */
export const INSTANT_DOC =
  /^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$/;

import type { Role } from '@truceline/domain';
import { ROLES } from '@truceline/domain';
import fc from 'fast-check';
import { sign } from 'jsonwebtoken';
import { createSecretKey } from 'node:crypto';
import type { RawRequest, Targets } from './contract-kit';
import { OpenApiDocument, Operation, requestOf, resolve, Schema, valueOf } from './openapi';

/**
 * Hostile requests for every route of the OpenAPI document: wrong types, huge and unicode
 * strings, deep nesting, unknown and prototype keys, bad and forged tokens, bad headers, wrong
 * methods. Every request that could change something carries at least one defect of its own
 * (`defect`), so it must be refused; the rest is noise around it.
 */

export interface HostileRequest extends RawRequest {
  operation?: Operation;
  /** What makes it wrong; every request with a method other than GET/HEAD has one. */
  defect: string;
}

export interface HostileContext {
  document: OpenApiDocument;
  operations: Operation[];
  targets: Targets;
  secret: string;
}

const PARTNERS = ['UA', 'US', 'GB', 'PL', 'FR', 'DE', 'EU'];
const WRITES = ['POST', 'PUT', 'PATCH', 'DELETE'];

/** Header values fetch can send: tab, visible ASCII and Latin-1, no CR, LF or NUL. */
const headerText = (maxLength: number) =>
  fc
    .string({
      maxLength,
      unit: fc.oneof(
        fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)),
        fc.constant('\t'),
      ),
    })
    .map((s) => s.trim());

/** Strings a careless handler chokes on. */
export const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '%00',
    '../../etc/passwd',
    "'; DROP TABLE events; --",
    '${jndi:ldap://x}',
    '__proto__',
    'constructor',
    'NaN',
    '1e400',
    '-0',
    '\u202e\u0645\u0631\u062d\u0628\u0627',
    '😀'.repeat(3000),
  ),
  fc.integer({ min: 1000, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

/** Any JSON value, strings included nasty ones. */
const anyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    nastyString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor')),
      tie('value'),
      {
        maxKeys: 4,
      },
    ),
  ),
})).value;

const nest = (levels: number, leaf: unknown, asArray: boolean): string => {
  const open = asArray ? '['.repeat(levels) : '{"a":'.repeat(levels);
  const close = asArray ? ']'.repeat(levels) : '}'.repeat(levels);
  return `${open}${JSON.stringify(leaf)}${close}`;
};

// ---------------------------------------------------------------- tokens

type Auth = { header?: string; valid: boolean; label: string };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

function tokens(secretText: string, allowed: readonly string[] | undefined): fc.Arbitrary<Auth> {
  // Key objects made once: given a string, jsonwebtoken first tries it as a private key on every
  // call and fails, which took half the CPU of generating the requests.
  const secret = createSecretKey(Buffer.from(secretText));
  const forged = createSecretKey(Buffer.from('not-the-secret-but-long-enough'));
  const role = fc.constantFrom(...ROLES);
  const partner = fc.constantFrom(...PARTNERS);
  const good = (r: Role, p: string) =>
    sign({ sub: `hostile-${r}`, role: r, partner: p, exp: inAnHour() }, secret, {
      algorithm: 'HS256',
    });
  const bad = (label: string, header: fc.Arbitrary<string | undefined>): fc.Arbitrary<Auth> =>
    header.map((h) => ({ header: h, valid: false, label }));
  const allowedRoles = (allowed ?? []) as Role[];
  return fc.oneof(
    bad('no token', fc.constant(undefined)),
    bad(
      'another scheme',
      headerText(40).map((s) => `Basic ${s}`),
    ),
    bad(
      'garbage bearer',
      headerText(300).map((s) => `Bearer ${s}`),
    ),
    bad(
      'forged signature',
      fc
        .tuple(role, partner)
        .map(
          ([r, p]) => `Bearer ${sign({ sub: 'x', role: r, partner: p, exp: inAnHour() }, forged)}`,
        ),
    ),
    bad(
      'alg none',
      fc
        .tuple(role, partner)
        .map(
          ([r, p]) =>
            `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', role: r, partner: p, exp: inAnHour() })}.`,
        ),
    ),
    bad(
      'another algorithm',
      role.map(
        (r) =>
          `Bearer ${sign({ sub: 'x', role: r, partner: 'GB', exp: inAnHour() }, secret, { algorithm: 'HS512' })}`,
      ),
    ),
    bad(
      'expired',
      role.map((r) => `Bearer ${sign({ sub: 'x', role: r, partner: 'GB', exp: 1 }, secret)}`),
    ),
    bad(
      'no exp',
      role.map((r) => `Bearer ${sign({ sub: 'x', role: r, partner: 'GB' }, secret)}`),
    ),
    bad(
      'hostile claims',
      fc
        .record({
          sub: anyJson,
          role: fc.oneof(anyJson, fc.constantFrom('admin', 'Operator', ' operator')),
          partner: fc.oneof(anyJson, fc.constantFrom('gb', 'GBR', 'G')),
          exp: fc.oneof(fc.constant(inAnHour()), anyJson),
        })
        .filter((claims) => !isValidClaims(claims))
        .map((claims) => `Bearer ${sign(JSON.stringify(claims), secret)}`),
    ),
    ...(allowedRoles.length < ROLES.length
      ? [
          fc
            .tuple(fc.constantFrom(...ROLES.filter((r) => !allowedRoles.includes(r))), partner)
            .map(([r, p]): Auth => ({
              header: `Bearer ${good(r, p)}`,
              valid: false,
              label: `the ${r} role`,
            })),
        ]
      : []),
    ...(allowedRoles.length > 0
      ? [
          {
            weight: 6,
            arbitrary: fc.tuple(fc.constantFrom(...allowedRoles), partner).map(([r, p]): Auth => ({
              header: `Bearer ${good(r, p)}`,
              valid: true,
              label: 'valid',
            })),
          },
        ]
      : []),
  );
}

/** Claims the API would accept: a hostile-claims token must not be one of them. */
function isValidClaims(claims: Record<string, unknown>): boolean {
  const { sub, role, partner, exp } = claims;
  return (
    typeof sub === 'string' &&
    sub.length > 0 &&
    sub.length <= 200 &&
    ROLES.includes(role as Role) &&
    typeof exp === 'number' &&
    (partner === undefined || (typeof partner === 'string' && /^[A-Z]{2}$/.test(partner)))
  );
}

// ---------------------------------------------------------------- bodies

interface Body {
  text?: string;
  contentType?: string;
  defect?: string;
}

/** Paths (as key lists) of the object properties a schema declares, nested ones included. */
function propertyPaths(document: OpenApiDocument, schema: Schema, prefix: string[] = []) {
  const paths: { path: string[]; schema: Schema; required: boolean }[] = [];
  const resolved = resolve(document, schema);
  for (const [name, property] of Object.entries(resolved.properties ?? {})) {
    const path = [...prefix, name];
    paths.push({
      path,
      schema: resolve(document, property),
      required: !!resolved.required?.includes(name),
    });
    if (prefix.length < 3) paths.push(...propertyPaths(document, property, path));
  }
  return paths;
}

const setAt = (target: Record<string, unknown>, path: string[], value: unknown) => {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  Object.defineProperty(node, path.at(-1)!, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
};

/** A value of another JSON type than the schema's. */
function wrongTypeOf(schema: Schema): fc.Arbitrary<unknown> {
  const type = schema.type ?? 'object';
  const others: fc.Arbitrary<unknown>[] = [];
  if (type !== 'string') others.push(nastyString);
  if (type !== 'number' && type !== 'integer') others.push(fc.double(), fc.integer());
  if (type !== 'boolean') others.push(fc.boolean());
  if (type !== 'array') others.push(fc.array(anyJson, { maxLength: 3 }));
  if (type !== 'object') others.push(fc.dictionary(fc.string(), anyJson, { maxKeys: 3 }));
  others.push(fc.constant(null));
  if (schema.enum) others.push(fc.string().filter((s) => !schema.enum!.includes(s)));
  if (type === 'integer') others.push(fc.double({ noInteger: true, noNaN: true }));
  return fc.oneof(...others);
}

/** A body of the operation with one defect that makes it invalid. */
function defectiveBody(document: OpenApiDocument, operation: Operation): fc.Arbitrary<Body> {
  const schema = operation.body ?? { type: 'object', properties: {} };
  const valid = valueOf(document, schema) as fc.Arbitrary<Record<string, unknown>>;
  const paths = propertyPaths(document, schema);
  const declared = new Set(paths.map((p) => p.path.join('.')));
  const json = (body: unknown, defect: string): Body => ({ text: JSON.stringify(body), defect });
  const defects: fc.Arbitrary<Body>[] = [
    fc
      .tuple(valid, fc.integer({ min: 33, max: 6000 }), fc.boolean())
      .map(([body, levels, asArray]) => ({
        text: JSON.stringify({ ...body, deep: '§' }).replace('"§"', nest(levels, 1, asArray)),
        defect: `nested ${levels} levels`,
      })),
    fc
      .tuple(valid, fc.constantFrom('__proto__', 'constructor', 'prototype'), anyJson)
      .map(([body, key, value]) => {
        const target = { ...body };
        setAt(
          target,
          paths.length > 0 && Math.random() < 0.5 ? [...paths[0]!.path.slice(0, -1), key] : [key],
          value,
        );
        return json(target, `prototype key ${key}`);
      }),
    fc
      .tuple(valid, fc.string({ minLength: 1, maxLength: 30 }), anyJson)
      .filter(([, key]) => !declared.has(key))
      .map(([body, key, value]) =>
        json({ ...body, [key]: value }, `unknown field ${JSON.stringify(key)}`),
      ),
    fc
      .constantFrom(
        '{',
        '{"a":',
        'nul',
        '[1,]',
        '{"a":1}}',
        '\u0000',
        "{'a':1}",
        '{"a":NaN}',
        '"x"',
        '1',
        'null',
        '[]',
        '[{}]',
        '1e400',
      )
      .map((text) => ({ text, defect: `not a JSON object: ${text}` })),
    fc.integer({ min: 65 * 1024, max: 200 * 1024 }).map((size) => ({
      text: JSON.stringify({ summary: 'x'.repeat(size) }),
      defect: `${size} bytes`,
    })),
    fc
      .tuple(
        valid,
        fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          'application/jsonx',
        ),
      )
      .map(([body, contentType]) => ({
        text: JSON.stringify(body),
        contentType,
        defect: `content type ${contentType}`,
      })),
  ];
  if (paths.length > 0) {
    defects.push(
      fc.tuple(valid, fc.constantFrom(...paths)).chain(([body, target]) =>
        wrongTypeOf(target.schema).map((value) => {
          const copy = structuredClone(body);
          setAt(copy, target.path, value);
          return json(copy, `${target.path.join('.')} = ${JSON.stringify(value)?.slice(0, 40)}`);
        }),
      ),
    );
    const texts = paths.filter(
      (p) => p.schema.type === 'string' && !p.schema.enum && !p.schema.format,
    );
    if (texts.length > 0) {
      defects.push(
        fc
          .tuple(
            valid,
            fc.constantFrom(...texts),
            fc.constantFrom('a\u0000b', '\ud800', '   ', '', 'x'.repeat(5000)),
          )
          .map(([body, target, value]) => {
            const copy = structuredClone(body);
            setAt(copy, target.path, value);
            return json(copy, `${target.path.join('.')} = ${JSON.stringify(value).slice(0, 20)}`);
          }),
      );
    }
    const required = paths.filter((p) => p.required && p.path.length === 1);
    if (required.length > 0) {
      defects.push(
        fc.tuple(valid, fc.constantFrom(...required)).map(([body, target]) => {
          const copy = { ...body };
          delete copy[target.path[0]!];
          return json(copy, `without ${target.path[0]}`);
        }),
      );
    }
  }
  return fc.oneof(...defects);
}

// ---------------------------------------------------------------- requests

/** Percent-encoding of any string; an unpaired surrogate becomes U+FFFD, as a browser sends it. */
const encode = (text: string) => encodeURIComponent(text.replace(/[\uD800-\uDFFF]/gu, '\uFFFD'));

const hostilePathValue = fc.oneof(
  fc.uuid(),
  nastyString.map((s) => encode(s.slice(0, 3000))),
  fc.constantFrom('..', '.', '%2e%2e', '%00', '%E0%A4%A', '%', '%zz', 'a%2Fb', '%C0%AE'),
);

/** One hostile request somewhere in the document's routes, or beside them. */
export function hostileRequest(context: HostileContext): fc.Arbitrary<HostileRequest> {
  const { document, operations, targets, secret } = context;
  const perOperation = operations.map((operation) =>
    fc
      .record({
        base: requestOf(document, operation, {
          id: fc.oneof(fc.constantFrom(...targets.incidentIds), hostilePathValue),
          taskId: fc.oneof(fc.constantFrom(...targets.taskIds), hostilePathValue),
        }),
        auth: tokens(secret, operation.roles),
        headerNoise: fc.dictionary(
          fc.constantFrom(
            'Idempotency-Key',
            'If-Match',
            'X-Correlation-Id',
            'Last-Event-ID',
            'Accept',
            'X-Forwarded-For',
            'Content-Encoding',
          ),
          headerText(300),
          { maxKeys: 2 },
        ),
        queryNoise: fc.dictionary(
          fc.oneof(
            fc.string({ maxLength: 20 }),
            fc.constantFrom(
              '__proto__',
              'constructor',
              '__proto__[x]',
              'a[b][c][d][e][f][g]',
              'tier[]',
              'limit',
              'cursor',
              'after',
            ),
          ),
          fc.oneof(
            nastyString.map((s) => s.slice(0, 2000)),
            fc.constant(''),
          ),
          { maxKeys: 2 },
        ),
        method: fc.oneof(
          { weight: 8, arbitrary: fc.constant(operation.method) },
          {
            weight: 1,
            arbitrary: fc.constantFrom('PUT', 'PATCH', 'DELETE', 'POST', 'GET', 'OPTIONS'),
          },
        ),
        body: defectiveBody(document, operation),
        defectKind: fc.constantFrom('auth', 'body', 'header', 'path'),
        headerDefect: fc.oneof(
          fc.constant(['Idempotency-Key', '']),
          fc.constant(['Idempotency-Key', 'k'.repeat(201)]),
          fc.constant(['Idempotency-Key', 'clé']),
          fc.constant(['If-Match', '"abc"']),
          fc.constant(['If-Match', '"1", "2"']),
          fc.constant(['X-Correlation-Id', 'x'.repeat(300)]),
        ),
        pathDefect: fc.oneof(fc.uuid(), hostilePathValue),
      })
      .map(
        ({
          base,
          auth,
          headerNoise,
          queryNoise,
          method,
          body,
          defectKind,
          headerDefect,
          pathDefect,
        }) => {
          const headers: Record<string, string> = { ...base.headers, ...headerNoise };
          const query = new URLSearchParams({ ...base.query, ...queryNoise }).toString();
          let path = base.path;
          const defects: string[] = [];
          if (method !== operation.method) defects.push(`method ${method}`);
          if (!auth.valid) defects.push(`token: ${auth.label}`);
          if (auth.header !== undefined) headers.authorization = auth.header;
          let text: string | undefined;
          const hasBody = method !== 'GET' && method !== 'HEAD';
          if (hasBody) {
            text = base.body === undefined ? undefined : JSON.stringify(base.body);
            headers['content-type'] = 'application/json';
          }
          // A write must be refused: give it a defect of its own when it has none yet.
          if (WRITES.includes(method) && defects.length === 0) {
            const kind = pickApplicable(defectKind, operation);
            if (kind === 'body') {
              text = body.text;
              if (body.contentType) headers['content-type'] = body.contentType;
              defects.push(`body: ${body.defect}`);
            } else if (kind === 'header') {
              headers[headerDefect[0]!] = headerDefect[1]!;
              defects.push(`header ${headerDefect[0]}: ${headerDefect[1]!.slice(0, 20)}`);
            } else if (kind === 'path') {
              path = operation.path
                .replace(/\{id\}/, pathDefect)
                .replace(/\{(\w+)\}/g, (_, name: string) =>
                  name === 'taskId' ? 'no-such-task' : 'x',
                );
              path = path.replace(/\{\w+\}/g, 'x');
              defects.push(`path ${path.slice(0, 80)}`);
            } else {
              delete headers.authorization;
              defects.push('token: none');
            }
          } else if (hasBody && text !== undefined && Math.random() < 0.3) {
            text = body.text;
            if (body.contentType) headers['content-type'] = body.contentType;
            defects.push(`body: ${body.defect}`);
          }
          return {
            operation,
            method,
            target: `${path}${query ? `?${query}` : ''}`,
            headers,
            ...(hasBody && text !== undefined && { body: text }),
            defect: defects.join('; ') || 'none',
          };
        },
      ),
  );
  const elsewhere = fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
      path: fc.oneof(
        nastyString.map((s) => `/v1/${encode(s.slice(0, 500))}`),
        fc.constantFrom(
          '/',
          '/v1',
          '/v2/incidents',
          '/v1/incidents/',
          '//v1/incidents',
          '/v1/incidents/x/y/z',
          '/docs-json',
          '/.env',
          '/v1/%2e%2e/metrics',
        ),
      ),
      auth: tokens(secret, ['operator']),
    })
    .map(({ method, path, auth }): HostileRequest => ({
      method,
      target: path,
      headers: auth.header === undefined ? {} : { authorization: auth.header },
      defect: 'a path the API does not serve',
    }));
  return fc.oneof(
    { weight: 12, arbitrary: fc.oneof(...perOperation) },
    { weight: 1, arbitrary: elsewhere },
  );
}

/** The defect to give a write, among those its operation can carry. */
function pickApplicable(kind: string, operation: Operation): string {
  const headers = new Set(operation.parameters.filter((p) => p.in === 'header').map((p) => p.name));
  const hasPath = operation.parameters.some((p) => p.in === 'path');
  if (kind === 'header' && !(headers.has('Idempotency-Key') && headers.has('If-Match')))
    return 'body';
  if (kind === 'path' && !hasPath) return 'auth';
  if (kind === 'auth' && !operation.roles) return 'body';
  return kind;
}

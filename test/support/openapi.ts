import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';

/**
 * The served OpenAPI document as the contract tests read it: its operations, fast-check
 * arbitraries of schema-valid requests derived from its JSON schemas, and validators of the
 * responses it documents. Nothing here knows a route: every route of the document is covered.
 */

export type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  /** OpenAPI 3.0: the bound beside it is exclusive. */
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  nullable?: boolean;
};

export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, Schema> };
}

interface ParameterObject {
  name: string;
  'x-rule'?: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: Schema;
}

interface OperationObject {
  parameters?: ParameterObject[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
  'x-roles'?: string[];
}

export interface Operation {
  method: string;
  path: string;
  /** `METHOD /path/{template}` */
  name: string;
  parameters: ParameterObject[];
  body?: Schema;
  bodyRequired: boolean;
  responses: OperationObject['responses'];
  /** Roles that may call it; undefined for a public route. */
  roles?: string[];
  /** Body fields the server checks beyond the schema (`x-rule`): a 400 may name them. */
  ruleFields: Set<string>;
}

export interface GeneratedRequest {
  operation: Operation;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: unknown;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const body = operation.requestBody?.content['application/json']?.schema;
      operations.push({
        method: method.toUpperCase(),
        path,
        name: `${method.toUpperCase()} ${path}`,
        parameters: operation.parameters ?? [],
        body,
        bodyRequired: operation.requestBody?.required ?? false,
        responses: operation.responses,
        roles: operation['x-roles'],
        ruleFields: new Set([
          ...(body ? ruleFieldsOf(document, body) : []),
          ...(operation.parameters ?? [])
            .filter((p) => p['x-rule'] !== undefined || p.schema?.['x-rule'] !== undefined)
            .map((p) => p.name),
        ]),
      });
    }
  }
  return operations;
}

export function resolve(document: OpenApiDocument, schema: Schema): Schema {
  let current = schema;
  for (let hops = 0; current.$ref !== undefined; hops++) {
    if (hops > 20) throw new Error(`unresolvable $ref ${schema.$ref}`);
    const name = current.$ref.replace('#/components/schemas/', '');
    const target = document.components?.schemas?.[name];
    if (!target) throw new Error(`$ref to a missing schema: ${current.$ref}`);
    current = target;
  }
  return current;
}

/** Dotted paths (as the problem's `errors[].field` names them) of fields with an `x-rule`. */
function ruleFieldsOf(document: OpenApiDocument, root: Schema): Set<string> {
  const fields = new Set<string>();
  const visit = (schema: Schema, prefix: string, depth: number) => {
    const resolved = resolve(document, schema);
    if (depth > 8) return;
    for (const [name, property] of Object.entries(resolved.properties ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (property['x-rule'] !== undefined || resolve(document, property)['x-rule'] !== undefined)
        fields.add(path);
      visit(property, path, depth + 1);
    }
  };
  visit(root, '', 0);
  return fields;
}

/** Code points, as JSON Schema counts a string's length. */
const codePoints = (value: string) => [...value].length;

/** How a schema's string pattern is honoured: generated from when fast-check can, else filtered. */
function stringArbitrary(schema: Schema): fc.Arbitrary<string> {
  const minLength = schema.minLength ?? 0;
  const maxLength = schema.maxLength ?? 300;
  const fitsLength = (s: string) => codePoints(s) >= minLength && codePoints(s) <= maxLength;
  if (schema.format === 'date-time') return instantArbitrary(schema);
  if (schema.format === 'uuid' && schema.pattern === undefined) return fc.uuid();
  if (schema.pattern !== undefined) {
    const key = `${minLength} ${maxLength} ${schema.pattern}`;
    const known = patternArbitraries.get(key);
    if (known) return known;
    const pattern = new RegExp(schema.pattern, 'u');
    let arbitrary: fc.Arbitrary<string>;
    try {
      arbitrary = fc
        .stringMatching(new RegExp(schema.pattern))
        .filter((s) => pattern.test(s) && fitsLength(s));
    } catch {
      // A pattern fast-check cannot generate from (e.g. a lookahead): draw text and keep matches.
      arbitrary = freeText(minLength, maxLength).filter((s) => pattern.test(s));
    }
    patternArbitraries.set(key, arbitrary);
    return arbitrary;
  }
  return freeText(minLength, maxLength);
}

/**
 * Arbitraries of patterned strings, made once per pattern and length bounds: the document
 * repeats a few patterns dozens of times, and fast-check takes long to build one from a regular
 * expression. Arbitraries are immutable, so sharing one draws exactly what a new one would.
 */
const patternArbitraries = new Map<string, fc.Arbitrary<string>>();

/**
 * Any text: ASCII, any Unicode code point (astral ones included), and strings at the maximum
 * length, which is where limits are got wrong.
 */
function freeText(minLength: number, maxLength: number): fc.Arbitrary<string> {
  const lengths = { minLength, maxLength: Math.min(maxLength, 40) };
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.string({ ...lengths, unit: 'grapheme-ascii' }) },
      { weight: 3, arbitrary: fc.string({ ...lengths, unit: 'binary' }) },
      {
        weight: 1,
        arbitrary: fc.string({
          minLength: maxLength,
          maxLength,
          unit: fc.oneof(
            fc.constantFrom('a', 'é', '😀', ' ', '\u200b'),
            fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
          ),
        }),
      },
    )
    .filter((s) => codePoints(s) >= minLength && codePoints(s) <= maxLength);
}

/**
 * RFC 3339 instants as the document's pattern states them, mostly in the recent past (where a
 * report's occurredAt lies) and sometimes anywhere in years 1000 to 9999, with offsets.
 */
function instantArbitrary(schema: Schema): fc.Arbitrary<string> {
  const recent = fc.date({
    min: new Date('2000-01-01T00:00:00Z'),
    max: new Date('2026-03-01T00:00:00Z'),
    noInvalidDate: true,
  });
  const any = fc.date({
    min: new Date('1000-01-01T00:00:00Z'),
    max: new Date('9999-12-30T00:00:00Z'),
    noInvalidDate: true,
  });
  const offsetMinutes = fc.oneof(
    fc.constant(0),
    fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
  );
  const pattern = schema.pattern ? new RegExp(schema.pattern, 'u') : undefined;
  return fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: recent }, { weight: 1, arbitrary: any }),
      offsetMinutes,
      fc.integer({ min: 0, max: 9 }),
    )
    .map(([date, offset, digits]) => formatInstant(date, offset, digits))
    .filter((s) => pattern === undefined || pattern.test(s));
}

function formatInstant(date: Date, offsetMinutes: number, fractionDigits: number): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const base = local.toISOString().slice(0, 19);
  const nanos = String(date.getUTCMilliseconds()).padStart(3, '0').padEnd(9, '7');
  const fraction = fractionDigits === 0 ? '' : `.${nanos.slice(0, fractionDigits)}`;
  if (offsetMinutes === 0) return `${base}${fraction}Z`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${base}${fraction}${sign}${hh}:${mm}`;
}

/** A value valid against `schema` (OpenAPI 3.0 dialect of JSON Schema). */
export function valueOf(
  document: OpenApiDocument,
  schema: Schema,
  depth = 0,
): fc.Arbitrary<unknown> {
  const resolved = resolve(document, schema);
  const arbitrary = baseValueOf(document, resolved, depth);
  return resolved.nullable ? fc.option(arbitrary, { nil: null }) : arbitrary;
}

function baseValueOf(
  document: OpenApiDocument,
  schema: Schema,
  depth: number,
): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string':
      return stringArbitrary(schema);
    case 'integer':
      return fc.integer({
        min: (schema.minimum ?? Number.MIN_SAFE_INTEGER) + (schema.exclusiveMinimum ? 1 : 0),
        max: (schema.maximum ?? Number.MAX_SAFE_INTEGER) - (schema.exclusiveMaximum ? 1 : 0),
      });
    case 'number':
      return fc.double({
        min: schema.minimum ?? -1e15,
        max: schema.maximum ?? 1e15,
        minExcluded: schema.exclusiveMinimum === true,
        maxExcluded: schema.exclusiveMaximum === true,
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const items = valueOf(document, schema.items ?? {}, depth + 1);
      const bounds = {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 5, 60),
      };
      return schema.uniqueItems
        ? fc.uniqueArray(items, { ...bounds, selector: (v) => JSON.stringify(v) })
        : fc.array(items, bounds);
    }
    case 'object':
    case undefined: {
      const properties = schema.properties ?? {};
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, property] of Object.entries(properties)) {
        model[name] = valueOf(document, property, depth + 1);
      }
      if (Object.keys(model).length === 0) return fc.constant({});
      return fc.record(model, { requiredKeys: schema.required ?? [] });
    }
    default:
      throw new Error(`no generator for schema type ${schema.type}`);
  }
}

/** Text of a query or header parameter value. */
const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** Schema-valid requests of an operation: parameters, headers and body from the document. */
export function requestOf(
  document: OpenApiDocument,
  operation: Operation,
  pathValues: Partial<Record<string, fc.Arbitrary<string>>> = {},
): fc.Arbitrary<GeneratedRequest> {
  const parameter = (p: ParameterObject) => {
    const generated = valueOf(document, p.schema ?? { type: 'string' }).map(asText);
    const given = p.in === 'path' ? pathValues[p.name] : undefined;
    return given ? fc.oneof(given, generated) : generated;
  };
  const group = (where: ParameterObject['in']) => {
    const model: Record<string, fc.Arbitrary<string>> = {};
    const required: string[] = [];
    for (const p of operation.parameters.filter((q) => q.in === where)) {
      model[p.name] = parameter(p);
      if (p.required || where === 'path') required.push(p.name);
    }
    return fc.record(model, { requiredKeys: required }) as fc.Arbitrary<Record<string, string>>;
  };
  const body = operation.body
    ? operation.bodyRequired
      ? valueOf(document, operation.body)
      : fc.option(valueOf(document, operation.body), { nil: undefined })
    : fc.constant(undefined);
  return fc
    .record({ path: group('path'), query: group('query'), headers: group('header'), body })
    .map(({ path, query, headers, body: value }) => ({
      operation,
      path: operation.path.replace(/\{(\w+)\}/g, (_, name: string) =>
        encodeURIComponent(path[name] ?? ''),
      ),
      query,
      headers,
      body: value,
    }));
}

/** Validators of every documented response body, by operation, status and media type. */
export class ResponseValidators {
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(document: OpenApiDocument) {
    // Not strict: OpenAPI's `example` and the `x-` extensions are ignored, not refused.
    this.ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: true });
    addFormats(this.ajv);
    this.ajv.addSchema(toDraft({ components: document.components ?? {} }) as object, 'doc');
  }

  /** `null` when the response conforms, else what is wrong with it. */
  check(operation: Operation, status: number, contentType: string, body: unknown): string | null {
    const documented = operation.responses[String(status)];
    if (!documented) return `status ${status} is not documented`;
    if (!documented.content)
      return body === undefined ? null : `status ${status} documents no body`;
    const mediaType = contentType.split(';')[0]!.trim();
    const entry = documented.content[mediaType];
    if (!entry) {
      return `${mediaType || 'no content type'} is not documented for ${status} (${Object.keys(documented.content).join(', ')})`;
    }
    if (!entry.schema) return `${status} ${mediaType} has no schema`;
    const key = `${operation.name} ${status} ${mediaType}`;
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile(toDraft(entry.schema) as object);
      this.cache.set(key, validate);
    }
    if (validate(body)) return null;
    return `body does not match the ${status} schema: ${this.ajv.errorsText(validate.errors)}`;
  }

  /** Whether the document describes this operation's responses each with a schema. */
  undocumentedBodies(operation: Operation): string[] {
    return Object.entries(operation.responses).flatMap(([status, response]) =>
      !response.content
        ? [`${operation.name} ${status} has no content`]
        : Object.entries(response.content)
            .filter(([, media]) => !media.schema)
            .map(([media]) => `${operation.name} ${status} ${media} has no schema`),
    );
  }
}

/** OpenAPI 3.0 `nullable` as JSON Schema, and `$ref`s pointed at the registered document. */
function toDraft(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toDraft);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string') out.$ref = `doc${value}`;
    else if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, property]) => [name, toDraft(property)]),
      );
    } else out[key] = toDraft(value);
  }
  // OpenAPI 3.0's boolean exclusive bounds are JSON Schema's numeric ones.
  for (const [bound, exclusive] of [
    ['minimum', 'exclusiveMinimum'],
    ['maximum', 'exclusiveMaximum'],
  ] as const) {
    if (out[exclusive] === true && typeof out[bound] === 'number') {
      out[exclusive] = out[bound];
      delete out[bound];
    } else if (typeof out[exclusive] === 'boolean') delete out[exclusive];
  }
  if (out.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  delete out.nullable;
  return out;
}

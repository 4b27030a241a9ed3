import { WebhookNotice } from './webhook-notice.schema';
import { applyDecorators, INestApplication } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiHeader,
  ApiOperation,
  ApiParam,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  DocumentBuilder,
  getSchemaPath,
  OpenAPIObject,
  SwaggerModule,
} from '@nestjs/swagger';
import type { CommandResult } from '@truceline/workflows';
import { STATUS_CODES } from 'node:http';
import { ProblemDetails } from './problem-details.filter';
import { HEADER_TOKEN, IF_MATCH, TASK_ID, UUID } from './patterns';

export class FieldErrorDto {
  @ApiProperty({ example: 'location.frontlineKm' }) field!: string;
  @ApiProperty({ example: 'frontlineKm must not be greater than 1400' }) message!: string;
}

export class ProblemDetailsDto implements ProblemDetails {
  @ApiProperty({ example: 'urn:truceline:problem:validation' }) type!: string;
  @ApiProperty({ example: 'Invalid request' }) title!: string;
  @ApiProperty({ example: 400 }) status!: number;
  @ApiProperty() detail!: string;
  @ApiProperty({
    description:
      'Stable string code: validation, unauthorized, forbidden, not-found, ' +
      'illegal-state, concurrency, idempotency-conflict, idempotency-in-flight, …',
  })
  code!: string;
  @ApiPropertyOptional({ type: [FieldErrorDto] }) errors?: FieldErrorDto[];
  @ApiPropertyOptional({ description: 'Machine-readable reason of a 403 or 409' })
  reason?: string;
}

export class CommandResultDto implements CommandResult {
  @ApiProperty({ format: 'uuid' }) incidentId!: string;
  @ApiProperty({ format: 'uuid' }) eventId!: string;
  @ApiProperty({ description: "The incident stream's revision after the command" })
  revision!: number;
  @ApiProperty({ description: 'Global position of the event in the log' }) position!: number;
}

/** Error responses in the problem+json media type of RFC 9457. */
export const ApiProblems = (...statuses: number[]) =>
  applyDecorators(
    ApiExtraModels(ProblemDetailsDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: STATUS_CODES[status],
        content: {
          'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDetailsDto) } },
        },
      }),
    ),
  );

/**
 * `x-rule`: a check the server makes beyond what JSON Schema can state (a bound set by another
 * field or by the log's state), so a client knows a schema-valid value may still be a 400.
 */
export const xRule = (rule: string): Record<string, string> => ({ 'x-rule': rule });

/** Errors of every route that takes a JSON body: malformed or too deep, too large, not JSON. */
export const BODY_PROBLEMS = [400, 413, 415] as const;

/** The `:id` path parameter: an incident id (a UUID, SPEC §4). */
export const ApiIncidentId = () =>
  ApiParam({ name: 'id', schema: { type: 'string', format: 'uuid', pattern: UUID.source } });

export const ApiTaskId = () =>
  ApiParam({
    name: 'taskId',
    schema: { type: 'string', minLength: 1, maxLength: 200, pattern: TASK_ID.source },
  });

const visibleToken = (description: string) => ({
  required: false,
  description,
  schema: { type: 'string', minLength: 1, maxLength: 200, pattern: HEADER_TOKEN.source },
});

/**
 * What every command route shares: its headers, its 201 and its errors (SPEC §6). A command
 * that opens an incident has no incident to miss (no 404).
 */
/**
 * `Idempotency-Key` and `X-Correlation-Id`, which every route that appends takes (SPEC §6); a
 * key is one request whatever the route, so reusing it on another route is a 422 too.
 */
export const ApiAppendHeaders = () =>
  applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      ...visibleToken(
        'A retry with the same key returns the first response and appends nothing; the same ' +
          'key with another body or route → 422, while the first request is still in flight → ' +
          '409. Compared exactly as sent, per caller, and remembered for ' +
          'TRUCELINE_IDEMPOTENCY_TTL_HOURS (24 h by default). ' +
          '1 to 200 visible ASCII characters (inner spaces allowed)',
      ),
    }),
    ApiHeader({
      name: 'X-Correlation-Id',
      ...visibleToken('Carried into the metadata of the events this request stores'),
    }),
  );

export const CommandEndpoint = (summary: string, { opensIncident = false } = {}) =>
  applyDecorators(
    ApiOperation({ summary }),
    ApiAppendHeaders(),
    ApiHeader({
      name: 'If-Match',
      required: false,
      description: 'The revision the change is based on, e.g. "3" (* = any); a stale one → 412',
      schema: { type: 'string', pattern: IF_MATCH.source },
    }),
    ApiResponse({
      status: 201,
      description: 'The event is stored',
      type: CommandResultDto,
      headers: { ETag: { description: 'The new revision, e.g. "4"', schema: { type: 'string' } } },
    }),
    ApiProblems(...BODY_PROBLEMS, 401, 403, ...(opensIncident ? [] : [404]), 409, 412, 422),
  );

export function setupOpenApi(app: INestApplication): void {
  // Built on the first request for it, once: scanning every controller takes seconds of CPU,
  // which each start of the app spent for a document most instances never serve.
  SwaggerModule.setup('docs', app, () => {
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Truceline API')
        .setDescription('Breach reports, verification, escalation tiers and obligations (SPEC §6)')
        .setVersion('1')
        .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
        .build(),
      { extraModels: [WebhookNotice] },
    );
    return withWebhooks(closeRequestBodies(document));
  });
}

/**
 * What Truceline POSTs to partners (SPEC §5): OpenAPI 3.0 has no `webhooks`, so the request a
 * receiver gets is described under `x-webhooks`, its body as components.schemas.WebhookNotice.
 */
function withWebhooks(document: OpenAPIObject): OpenAPIObject {
  const header = (name: string, description: string) => ({
    name,
    in: 'header',
    required: true,
    description,
    schema: { type: 'string' },
  });
  return {
    ...document,
    'x-webhooks': {
      partnerNotice: {
        post: {
          summary: "A notice to a partner's webhook, signed as Standard Webhooks say",
          parameters: [
            header('webhook-id', 'The delivery id: the same on every retry; deduplicate by it'),
            header('webhook-timestamp', 'Unix seconds when this attempt was sent'),
            header(
              'webhook-signature',
              'v1,<base64 HMAC-SHA256 of id.timestamp.body>, one per configured secret, space-separated',
            ),
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/WebhookNotice' } },
            },
          },
          responses: { '2XX': { description: 'Stored by the receiver; anything else is retried' } },
        },
      },
    },
  } as OpenAPIObject;
}

/**
 * Request bodies are closed: the validation pipe refuses any field a DTO does not declare
 * (SPEC §6), so every schema a request body reaches says `additionalProperties: false`.
 */
export function closeRequestBodies(document: OpenAPIObject): OpenAPIObject {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Record<string, unknown>>;
  const pending: unknown[] = [];
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path) as { requestBody?: unknown }[]) {
      if (operation && typeof operation === 'object' && operation.requestBody) {
        pending.push(operation.requestBody);
      }
    }
  }
  const closed = new Set<string>();
  while (pending.length > 0) {
    const node = pending.pop();
    if (node === null || typeof node !== 'object') continue;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const name = ref.replace('#/components/schemas/', '');
      if (closed.has(name) || !schemas[name]) continue;
      closed.add(name);
      schemas[name].additionalProperties = false;
      pending.push(schemas[name]);
      continue;
    }
    pending.push(...Object.values(node));
  }
  return document;
}

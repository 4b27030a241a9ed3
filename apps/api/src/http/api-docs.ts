import { applyDecorators, INestApplication } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiHeader,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  DocumentBuilder,
  getSchemaPath,
  SwaggerModule,
} from '@nestjs/swagger';
import type { CommandResult } from '@truceline/workflows';
import { STATUS_CODES } from 'node:http';
import { ProblemDetails } from './problem-details.filter';

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
      'illegal-state, concurrency, idempotency-conflict, …',
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

/** What every command route shares: its headers, its 201 and its errors (SPEC §6). */
export const CommandEndpoint = (summary: string) =>
  applyDecorators(
    ApiOperation({ summary }),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'A retry with the same key returns the first response and appends nothing',
    }),
    ApiHeader({
      name: 'If-Match',
      required: false,
      description: 'The revision the change is based on, e.g. "3"; a stale one → 412',
    }),
    ApiHeader({ name: 'X-Correlation-Id', required: false }),
    ApiResponse({
      status: 201,
      description: 'The event is stored',
      type: CommandResultDto,
      headers: { ETag: { description: 'The new revision, e.g. "4"', schema: { type: 'string' } } },
    }),
    ApiProblems(400, 401, 403, 404, 409, 412, 422),
  );

export function setupOpenApi(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Truceline API')
      .setDescription('Breach reports, verification, escalation tiers and obligations (SPEC §6)')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
}

import { Body, Controller, Get, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { parsePolicyDocument } from '@truceline/config';
import type { CommandContext, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiAppendHeaders, ApiProblems, BODY_PROBLEMS } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { InjectRuntime } from '../runtime.tokens';
import { AdoptedPolicyDto, PolicyDocumentDto, PolicyVersionsDto } from './policies.dto';

/** Escalation policy versions (SPEC §3): rules are data, adopted as events. */
@ApiTags('policies')
@ApiBearerAuth()
@Controller('v1/policies')
export class PoliciesHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get()
  @Roles('operator', 'auditor')
  @ApiOperation({ summary: 'The adopted escalation policy versions, with when and by whom' })
  @ApiOkResponse({ type: PolicyVersionsDto })
  @ApiProblems(401, 403)
  async list(): Promise<PolicyVersionsDto> {
    const versions = await this.runtime.policies.list();
    return { current: Math.max(...versions.map((v) => v.version)), versions };
  }

  /**
   * The body is the whole document, validated by the same function `replay --policy FILE`
   * uses; the server assigns version n+1, which governs every event appended afterwards.
   */
  @Post()
  @Roles('operator')
  @ApiOperation({
    summary: 'Adopt a new escalation policy version (the server assigns n+1)',
    description:
      'Governs every event appended afterwards; events already stored keep their version. ' +
      'A document with a bad field is refused with 400 naming each one; `version` is not part ' +
      'of the document.',
  })
  @ApiAppendHeaders()
  @ApiBody({ type: PolicyDocumentDto })
  @ApiCreatedResponse({ type: AdoptedPolicyDto })
  @ApiProblems(...BODY_PROBLEMS, 401, 403, 409, 422)
  async adopt(
    @Body() body: Record<string, unknown>,
    @CommandHeaders({ ifMatch: false }) context: CommandContext,
  ): Promise<AdoptedPolicyDto> {
    const { actor, idempotencyKey, correlationId } = context;
    return this.runtime.policies.adopt(parsePolicyDocument(body), {
      actor,
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      ...(correlationId !== undefined && { correlationId }),
    });
  }
}

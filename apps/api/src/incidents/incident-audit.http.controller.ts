import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Actor, NotFoundError } from '@truceline/domain';
import type { IncidentAudit, IncidentView } from '@truceline/projections';
import type { Runtime } from '@truceline/workflows';
import { CurrentActor } from '../auth/actor.decorator';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, ApiProblems } from '../http/api-docs';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { AuditQueryDto, IncidentAuditDto } from './incident-audit.dto';
import { releasableTo } from './incident-queries.http.controller';

@ApiTags('incidents')
@ApiBearerAuth()
@Controller('v1/incidents')
export class IncidentAuditHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get(':id/audit')
  @Roles('auditor', 'operator', 'ministry')
  @ApiOperation({
    summary: 'The incident and its decision trail as they could be known at a time',
    description:
      'Built only from events recorded at or before `asOf`: the incident view then, the ' +
      'timeline by occurredAt with late-recorded facts flagged, every tier change with the ' +
      'SPEC §5 rule and policy version, every decision, every obligation with the event that ' +
      'met it or when it was missed, every notice delivered and acknowledged. A ministry reads ' +
      'only what its feed releases to it; an incident it may not see is a 404, as an unknown one.',
  })
  @ApiIncidentId()
  @ApiOkResponse({ type: IncidentAuditDto })
  @ApiProblems(400, 401, 403, 404)
  async audit(
    @IncidentIdParam() id: string,
    @Query() query: AuditQueryDto,
    @CurrentActor() actor: Actor,
  ): Promise<IncidentAudit> {
    const asOf = query.asOf === undefined ? undefined : new Date(query.asOf);
    const ministry = actor.role === 'ministry';
    const viewer =
      ministry && actor.partner
        ? { partner: actor.partner, view: (view: IncidentView) => releasableTo(actor, view) }
        : undefined;
    const audit =
      ministry && !viewer ? null : await this.runtime.queries.audit(id, { asOf, viewer });
    // The same 404 for unknown, not yet recorded at asOf, and not releasable to the caller:
    // a refusal would confirm that the incident exists.
    if (!audit)
      throw new NotFoundError(`incident ${id} not found${asOf ? ` as of ${query.asOf}` : ''}`);
    return audit;
  }
}

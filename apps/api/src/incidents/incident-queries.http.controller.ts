import { Controller, Get, Query, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Actor, NotFoundError, StoredEvent } from '@truceline/domain';
import type { IncidentPage, IncidentView } from '@truceline/projections';
import type { Runtime } from '@truceline/workflows';
import { CurrentActor } from '../auth/actor.decorator';
import { Roles } from '../auth/roles.decorator';
import { ApiProblems } from '../http/api-docs';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { ListIncidentsQueryDto } from './list-incidents.dto';

/** Partners that see every coalition task (SPEC §7: the tasked member, UA and US). */
const SEES_ALL_TASKS = ['UA', 'US'];

@ApiTags('incidents')
@ApiBearerAuth()
@Controller('v1/incidents')
export class IncidentQueriesHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get()
  @Roles('operator', 'auditor')
  @ApiOperation({ summary: 'Incidents, newest first, paged by cursor' })
  @ApiProblems(400, 401, 403)
  list(@Query() query: ListIncidentsQueryDto): Promise<IncidentPage> {
    return this.runtime.queries.list(JSON.parse(JSON.stringify(query)));
  }

  @Get(':id')
  @Roles('operator', 'auditor', 'ministry')
  @UseInterceptors(RevisionETagInterceptor)
  @ApiOperation({ summary: 'Status, tier, tier history, obligations and coalition tasks' })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiProblems(400, 401, 403, 404)
  async get(@IncidentIdParam() id: string, @CurrentActor() actor: Actor): Promise<IncidentView> {
    const view = await this.runtime.queries.get(id);
    if (!view) throw new NotFoundError(`incident ${id} not found`);
    return actor.role === 'ministry' ? releasableTo(actor, view) : view;
  }

  @Get(':id/events')
  @Roles('operator', 'auditor')
  @ApiOperation({ summary: "The incident's stream, with occurredAt and recordedAt" })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiProblems(400, 401, 403, 404)
  async events(
    @IncidentIdParam() id: string,
  ): Promise<{ incidentId: string; events: StoredEvent[] }> {
    const events = await this.runtime.queries.events(id);
    if (!events) throw new NotFoundError(`incident ${id} not found`);
    return { incidentId: id, events };
  }
}

/** What a ministry may see of an incident: the coalition tasks addressed to its partner. */
function releasableTo(actor: Actor, view: IncidentView): IncidentView {
  if (actor.partner && SEES_ALL_TASKS.includes(actor.partner)) return view;
  return {
    ...view,
    coalitionTasks: view.coalitionTasks.filter((task) => task.member === actor.partner),
  };
}

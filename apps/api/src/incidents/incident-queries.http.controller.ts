import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  Actor,
  maySeeObligation,
  maySeeReceipt,
  maySeeTask,
  NotFoundError,
  StoredEvent,
} from '@truceline/domain';
import type { IncidentPage, IncidentView } from '@truceline/projections';
import type { Runtime } from '@truceline/workflows';
import type { FastifyReply } from 'fastify';
import { CurrentActor } from '../auth/actor.decorator';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, ApiProblems } from '../http/api-docs';
import { notModified } from '../http/etag.interceptor';
import { IncidentIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { IncidentEventsDto, IncidentPageDto, IncidentViewDto } from './incident-view.dto';
import { ListIncidentsQueryDto } from './list-incidents.dto';

@ApiTags('incidents')
@ApiBearerAuth()
@Controller('v1/incidents')
export class IncidentQueriesHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get()
  @Roles('operator', 'auditor')
  @ApiOperation({ summary: 'Incidents in the order they were reported, paged by cursor' })
  @ApiOkResponse({ type: IncidentPageDto })
  @ApiProblems(400, 401, 403)
  list(@Query() query: ListIncidentsQueryDto): Promise<IncidentPage> {
    return this.runtime.queries.list(JSON.parse(JSON.stringify(query)));
  }

  // The ETag is set here rather than by RevisionETagInterceptor: an interceptor puts every call
  // through Nest's rxjs pipeline, about 6% of the CPU of this, the API's most frequent read.
  @Get(':id')
  @Roles('operator', 'auditor', 'ministry')
  @ApiOperation({ summary: 'Status, tier, tier history, obligations and coalition tasks' })
  @ApiOkResponse({
    type: IncidentViewDto,
    headers: { ETag: { description: 'The revision, e.g. "4"', schema: { type: 'string' } } },
  })
  @ApiIncidentId()
  @ApiProblems(400, 401, 403, 404)
  async get(
    @IncidentIdParam() id: string,
    @CurrentActor() actor: Actor,
    @Res({ passthrough: true }) response: FastifyReply,
  ): Promise<IncidentView | undefined> {
    const view = await this.runtime.queries.get(id);
    // The same 404 for "unknown" and "not releasable to you": a refusal would confirm existence.
    if (!view || !entitled(actor)) throw new NotFoundError(`incident ${id} not found`);
    const etag = `"${view.revision}"`;
    void response.header('ETag', etag);
    // A conditional GET of the revision the client holds: 304, no body.
    if (notModified(response.request, etag)) {
      void response.code(304);
      return undefined;
    }
    return actor.role === 'ministry' ? releasableTo(actor, view) : view;
  }

  @Get(':id/events')
  @Roles('operator', 'auditor')
  @ApiOperation({ summary: "The incident's stream, with occurredAt and recordedAt" })
  @ApiOkResponse({ type: IncidentEventsDto })
  @ApiIncidentId()
  @ApiProblems(400, 401, 403, 404)
  async events(
    @IncidentIdParam() id: string,
  ): Promise<{ incidentId: string; events: StoredEvent[] }> {
    const events = await this.runtime.queries.events(id);
    if (!events) throw new NotFoundError(`incident ${id} not found`);
    return { incidentId: id, events };
  }
}

/**
 * Whether the caller may know of the incident at all. Operators and auditors see everything; a
 * ministry only an incident with at least one event releasable to its partner. Every incident
 * begins with its BreachReported, which SPEC §7 releases to all partners, so any partner is
 * entitled to the (filtered) view of an incident that exists; the check stays here so a
 * narrower release rule has one place to land.
 */
function entitled(actor: Actor): boolean {
  if (actor.role !== 'ministry') return true;
  return actor.partner !== undefined;
}

/** Receipts of notices as the read model lists them: each names the partner that gave it. */
type WithReceipts = IncidentView & { acknowledgements?: { partner: string }[] };

/**
 * What a ministry may see of an incident (SPEC §7), by the domain's visibility rules: coalition
 * tasks and their coalition-ack obligations as task assignments are released, receipts only its
 * own. The rest derives from events releasable to all partners.
 */
export function releasableTo(actor: Actor, view: IncidentView): IncidentView {
  const partner = actor.partner ?? '';
  const filtered: WithReceipts = {
    ...view,
    coalitionTasks: view.coalitionTasks.filter((task) => maySeeTask(partner, task)),
    obligations: view.obligations.filter((o) => maySeeObligation(partner, o, view.coalitionTasks)),
  };
  // As the read model does, the field is left out rather than empty when there is none to show.
  const receipts = (view as WithReceipts).acknowledgements?.filter((r) =>
    maySeeReceipt(partner, r),
  );
  if (receipts?.length) filtered.acknowledgements = receipts;
  else delete filtered.acknowledgements;
  return filtered;
}

import { Controller, Get, Query, ServiceUnavailableException } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Actor, NotFoundError, StoredEvent } from '@truceline/domain';
import type { CheckpointView, EventProof } from '@truceline/ledger';
import type { Runtime } from '@truceline/workflows';
import { CurrentActor } from '../auth/actor.decorator';
import { Roles } from '../auth/roles.decorator';
import { ApiProblems } from '../http/api-docs';
import { IncidentIdParam } from '../http/path-params';
import { IncidentProofDto, ProofQueryDto } from '../log/log.dto';
import { InjectRuntime } from '../runtime.tokens';

/** The body of GET /v1/incidents/{id}/proof (documented by IncidentProofDto). */
export interface IncidentProof {
  incidentId: string;
  checkpoint: CheckpointView;
  events: EventProof[];
}

@ApiTags('incidents')
@ApiBearerAuth()
@Controller('v1/incidents')
export class IncidentProofHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get(':id/proof')
  @Roles('auditor', 'operator', 'ministry')
  @ApiOperation({
    summary: "The incident's events with inclusion proofs against a signed checkpoint",
    description:
      'Each event with its leaf hash and RFC 9162 inclusion proof against the checkpoint ' +
      '(SPEC §10). A ministry gets what its feed releases to it; an incident it may not see is ' +
      'a 404, as an unknown one.',
  })
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOkResponse({ type: IncidentProofDto })
  @ApiProblems(400, 401, 403, 404, 503)
  async proof(
    @IncidentIdParam() id: string,
    @Query() query: ProofQueryDto,
    @CurrentActor() actor: Actor,
  ): Promise<IncidentProof> {
    const ledger = this.runtime.ledger;
    if (!ledger) throw new ServiceUnavailableException('the log is not sealed here');
    const stream = await this.runtime.queries.events(id);
    const events = stream && (await this.visibleTo(actor, stream));
    // The same 404 for unknown and not releasable: a refusal would confirm the incident exists.
    if (!events) throw new NotFoundError(`incident ${id} not found`);
    const proven = await ledger.prove(events, query.treeSize);
    if (!proven) throw new ServiceUnavailableException('the log has not sealed these events yet');
    return { incidentId: id, checkpoint: proven.checkpoint, events: proven.proofs };
  }

  /**
   * What the caller may see: everything for operators and auditors; for a ministry, exactly
   * the events its feed holds unredacted (the feed applies the need-to-know rules of SPEC §7).
   * Null when a ministry may see nothing of the incident.
   */
  private async visibleTo(actor: Actor, events: StoredEvent[]): Promise<StoredEvent[] | null> {
    if (actor.role !== 'ministry') return events;
    const feeds = this.runtime.feeds;
    if (!actor.partner || !feeds) return null;
    const partner = actor.partner;
    const released = await Promise.all(events.map((event) => feeds.entry(partner, event.id)));
    if (released.every((entry) => entry === null)) return null;
    return events.filter((event, i) => {
      const entry = released[i];
      return entry !== null && JSON.stringify(entry.data) === JSON.stringify(event.data);
    });
  }
}

import { Controller, Get, Query, ServiceUnavailableException } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ROLES } from '@truceline/domain';
import type { CheckpointView } from '@truceline/ledger';
import type { LedgerPort, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiProblems } from '../http/api-docs';
import { InjectRuntime } from '../runtime.tokens';
import { CheckpointDto, ConsistencyProofDto, ConsistencyQueryDto } from './log.dto';

/** The tamper-evident log (SPEC §10), for anyone authenticated. */
@ApiTags('log')
@ApiBearerAuth()
@Controller('v1/log')
export class LogHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get('checkpoint')
  @Roles(...ROLES)
  @ApiOperation({
    summary: 'The latest signed checkpoint, covering every event committed so far',
    description:
      'Signed on demand when events arrived since the last one. 503 while the log is empty.',
  })
  @ApiOkResponse({ type: CheckpointDto })
  @ApiProblems(400, 401, 503)
  async checkpoint(): Promise<CheckpointView> {
    const latest = await this.ledger().latest();
    if (!latest) throw new ServiceUnavailableException('the log has no checkpoint yet');
    return latest;
  }

  @Get('consistency')
  @Roles(...ROLES)
  @ApiOperation({
    summary: 'An RFC 9162 consistency proof between two tree sizes',
    description:
      'Proves that the tree of size `to` extends the tree of size `from`: a partner holding ' +
      'an older checkpoint checks that history was not rewritten since.',
  })
  @ApiOkResponse({ type: ConsistencyProofDto })
  @ApiProblems(400, 401, 503)
  async consistency(@Query() query: ConsistencyQueryDto): Promise<ConsistencyProofDto> {
    const proof = await this.ledger().consistency(query.from, query.to);
    return { from: query.from, to: query.to, proof };
  }

  private ledger(): LedgerPort {
    if (!this.runtime.ledger) throw new ServiceUnavailableException('the log is not sealed here');
    return this.runtime.ledger;
  }
}

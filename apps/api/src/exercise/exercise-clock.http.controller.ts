import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiProblems, BODY_PROBLEMS } from '../http/api-docs';
import { InjectRuntime } from '../runtime.tokens';
import { AdvanceClockDto, ExerciseClockDto } from './exercise-clock.dto';

/**
 * The exercise clock of drills, demos and acceptance tests (SPEC §2). AppModule registers this
 * controller only when TRUCELINE_CLOCK=exercise, so with the system clock both routes are 404.
 */
@ApiTags('exercise')
@ApiBearerAuth()
@Controller('v1/exercise/clock')
export class ExerciseClockHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Get()
  @Roles('operator', 'auditor', 'service', 'verifier', 'ministry')
  @ApiOperation({ summary: 'The current exercise time' })
  @ApiOkResponse({ type: ExerciseClockDto })
  @ApiProblems(401, 403)
  now(): ExerciseClockDto {
    const { clock } = this.runtime;
    return { now: clock.now().toISOString(), mode: clock.mode };
  }

  /** Deadlines fall due as the clock passes them; moving it back is a 409. */
  @Post()
  @HttpCode(200)
  @Roles('operator')
  @ApiOperation({ summary: 'Move the exercise clock forward' })
  @ApiOkResponse({ type: ExerciseClockDto })
  @ApiProblems(...BODY_PROBLEMS, 401, 403, 409)
  async advance(@Body() body: AdvanceClockDto): Promise<ExerciseClockDto> {
    const now = await this.runtime.clock.advance(new Date(body.now));
    return { now: now.toISOString(), mode: this.runtime.clock.mode };
  }
}

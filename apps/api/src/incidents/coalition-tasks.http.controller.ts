import { Body, Controller, Post, UseInterceptors } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { CommandContext, CommandResult, Runtime } from '@truceline/workflows';
import { Roles } from '../auth/roles.decorator';
import { ApiIncidentId, ApiTaskId, CommandEndpoint } from '../http/api-docs';
import { CommandHeaders } from '../http/command-context';
import { Text } from '../http/dto-fields';
import { RevisionETagInterceptor } from '../http/etag.interceptor';
import { IncidentIdParam, TaskIdParam } from '../http/path-params';
import { InjectRuntime } from '../runtime.tokens';
import { dataOf, withOccurredAt, CommandBody } from './command-body';

/** The body of acknowledge / decline / complete; `{}` is a valid answer. */
export class AnswerTaskDto extends CommandBody {
  @Text(2000, { required: false })
  reason?: string;
}

/**
 * A member's ministry answers the tasks addressed to it. The runtime checks that the token's
 * partner is the task's member (403 otherwise): only it knows the task.
 */
@ApiTags('coalition tasks')
@ApiBearerAuth()
@ApiIncidentId()
@ApiTaskId()
@UseInterceptors(RevisionETagInterceptor)
@Roles('ministry')
@Controller('v1/incidents/:id/coalition-tasks/:taskId')
export class CoalitionTasksHttpController {
  constructor(@InjectRuntime() private readonly runtime: Runtime) {}

  @Post('acknowledge')
  @CommandEndpoint('Acknowledge a task (due 12 h after assignment)')
  acknowledge(
    @IncidentIdParam() id: string,
    @TaskIdParam() taskId: string,
    @Body() body: AnswerTaskDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.answer(id, taskId, body, context, 'acknowledge');
  }

  @Post('decline')
  @CommandEndpoint('Decline a task (answers the acknowledgement obligation)')
  decline(
    @IncidentIdParam() id: string,
    @TaskIdParam() taskId: string,
    @Body() body: AnswerTaskDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.answer(id, taskId, body, context, 'decline');
  }

  @Post('complete')
  @CommandEndpoint('Report a task completed')
  complete(
    @IncidentIdParam() id: string,
    @TaskIdParam() taskId: string,
    @Body() body: AnswerTaskDto,
    @CommandHeaders() context: CommandContext,
  ): Promise<CommandResult> {
    return this.answer(id, taskId, body, context, 'complete');
  }

  /** The three answers differ only in kind; the OpenAPI document keeps one route per answer. */
  private answer(
    id: string,
    taskId: string,
    body: AnswerTaskDto,
    context: CommandContext,
    answer: 'acknowledge' | 'decline' | 'complete',
  ): Promise<CommandResult> {
    return this.runtime.commands.execute(
      id,
      { type: 'AnswerTask', data: { ...dataOf(body), taskId, answer } },
      withOccurredAt(context, body),
    );
  }
}

import {
  Body,
  Controller,
  Get,
  Headers,
  Inject,
  Logger,
  OnModuleDestroy,
  Post,
  Query,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Actor, ValidationError } from '@truceline/domain';
import type { CommandResult, FeedEntry, FeedPort, Runtime } from '@truceline/workflows';
import { CurrentActor } from '../auth/actor.decorator';
import { Roles } from '../auth/roles.decorator';
import { ApiProblems, BODY_PROBLEMS, CommandResultDto } from '../http/api-docs';
import { LAST_EVENT_ID } from '../http/patterns';
import { InjectRuntime } from '../runtime.tokens';
import {
  AcknowledgeNoticeDto,
  FEED_DEFAULT_LIMIT,
  FeedPageDto,
  FeedPageQueryDto,
  FeedStreamQueryDto,
} from './feed.dto';
import { FeedStreamSession, FeedStreamTiming, FeedWakeups, StreamSink } from './feed-stream';

export const FEED_STREAM_TIMING = Symbol('FeedStreamTiming');

/** What a stream uses of the raw HTTP response: its head, its writes and its close. */
export interface SseResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  flushHeaders(): void;
  write(chunk: string): boolean;
  end(): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
  off(event: 'close' | 'drain', listener: () => void): unknown;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
}

/**
 * What a stream uses of Fastify's reply: it takes the raw response over (`hijack`), with the
 * headers set on the reply so far (the correlation id).
 */
export interface SseReply {
  hijack(): unknown;
  getHeaders(): Record<string, number | string | string[] | undefined>;
  readonly raw: SseResponse;
}

export interface FeedPage {
  partner: string;
  entries: FeedEntry[];
  /** The `after` of the next page: the last entry's seq, or this page's `after` when empty. */
  next: number;
}

/**
 * A ministry's own partner feed (SPEC §6, §7): paged, live as Server-Sent Events, and its
 * receipts. The partner is always the token's: no route takes a partner, so no token can read
 * another partner's feed.
 */
@ApiTags('feeds')
@ApiBearerAuth()
@Controller('v1/feed')
export class FeedsHttpController implements OnModuleDestroy {
  private readonly logger = new Logger(FeedsHttpController.name);
  private wakeups: FeedWakeups | null = null;
  private readonly open = new Set<{ session: FeedStreamSession; response: SseResponse }>();

  constructor(
    @InjectRuntime() private readonly runtime: Pick<Runtime, 'feeds'>,
    @Inject(FEED_STREAM_TIMING) private readonly timing: FeedStreamTiming,
  ) {}

  @Get()
  @Roles('ministry')
  @ApiOperation({ summary: "The token's partner feed, in seq order, paged by `after`" })
  @ApiOkResponse({ type: FeedPageDto })
  @ApiProblems(400, 401, 403, 503)
  async page(@Query() query: FeedPageQueryDto, @CurrentActor() actor: Actor): Promise<FeedPage> {
    const partner = partnerOf(actor);
    const after = query.after ?? 0;
    const entries = await this.feeds().page(partner, after, query.limit ?? FEED_DEFAULT_LIMIT);
    return { partner, entries, next: entries.at(-1)?.seq ?? after };
  }

  @Get('stream')
  @Roles('ministry')
  @ApiOperation({
    summary: 'The same feed, live, as Server-Sent Events (`id:` = seq), resumable',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'Resume after this seq',
    schema: { type: 'string', pattern: LAST_EVENT_ID.source },
  })
  @ApiResponse({
    status: 200,
    description: 'An endless text/event-stream',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiProblems(400, 401, 403, 503)
  stream(
    @Query() query: FeedStreamQueryDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @CurrentActor() actor: Actor,
    @Res() reply: SseReply,
  ): void {
    const feeds = this.feeds();
    const after = resumePoint(lastEventId, query.after);
    // From here on the stream writes the raw response itself, which Fastify then leaves alone.
    reply.hijack();
    const response = reply.raw;
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) response.setHeader(name, String(value));
    }
    response.statusCode = 200;
    response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    response.setHeader('Cache-Control', 'no-cache');
    response.setHeader('Connection', 'keep-alive');
    response.setHeader('X-Accel-Buffering', 'no');
    response.flushHeaders();

    const session = new FeedStreamSession(feeds, partnerOf(actor), after, sinkOf(response), (e) =>
      this.logger.error(`feed stream of ${session.partner} failed`, e as Error),
    );
    const wakeups = (this.wakeups ??= new FeedWakeups(feeds, this.timing.pollMs));
    const opened = { session, response };
    // Registered before the first read: an append during the catch-up still wakes this session.
    const leave = wakeups.add(session);
    this.open.add(opened);
    const heartbeat = setInterval(() => void session.heartbeat(), this.timing.heartbeatMs);
    heartbeat.unref();
    response.once('close', () => {
      clearInterval(heartbeat);
      session.close();
      leave();
      this.open.delete(opened);
    });
    void session.wake();
  }

  @Post('acknowledgements')
  @Roles('ministry')
  @ApiOperation({ summary: 'Acknowledge a notice of the feed (idempotent per partner and event)' })
  @ApiResponse({ status: 201, description: 'Recorded, or already was', type: CommandResultDto })
  @ApiProblems(...BODY_PROBLEMS, 401, 403, 404, 503)
  acknowledge(
    @Body() body: AcknowledgeNoticeDto,
    @CurrentActor() actor: Actor,
  ): Promise<CommandResult> {
    return this.feeds().acknowledge(partnerOf(actor), body.eventId.toLowerCase(), actor);
  }

  /** Open streams end with the app, or its HTTP server would wait for them forever. */
  onModuleDestroy(): void {
    this.wakeups?.stop();
    for (const { session, response } of this.open) {
      session.close();
      response.end();
    }
    this.open.clear();
  }

  private feeds(): FeedPort {
    if (!this.runtime.feeds) throw new ServiceUnavailableException('partner feeds are not served');
    return this.runtime.feeds;
  }
}

/** Ministry tokens always name their partner (the guard refuses one without). */
function partnerOf(actor: Actor): string {
  if (!actor.partner) throw new Error('a ministry actor without a partner passed the guard');
  return actor.partner;
}

/**
 * Where a stream starts: after Last-Event-ID when the client sends it (an EventSource does on
 * reconnect), else after `?after=`, else from the beginning.
 */
export function resumePoint(lastEventId: string | undefined, after: number | undefined): number {
  if (lastEventId === undefined || lastEventId.trim() === '') return after ?? 0;
  const id = lastEventId.trim();
  if (!LAST_EVENT_ID.test(id)) {
    throw new ValidationError('invalid request: Last-Event-ID', [
      { field: 'Last-Event-ID', message: 'Last-Event-ID must be the seq of a feed entry' },
    ]);
  }
  return Number(id);
}

/** Writes that wait for the socket to drain, and give up once the client has gone. */
function sinkOf(response: SseResponse): StreamSink {
  return {
    write: (chunk) =>
      new Promise<void>((resolve) => {
        if (response.destroyed || response.writableEnded) return resolve();
        if (response.write(chunk)) return resolve();
        const done = () => {
          response.off('drain', done);
          response.off('close', done);
          resolve();
        };
        response.once('drain', done);
        response.once('close', done);
      }),
  };
}

/** One Server-Sent Event as a client dispatches it (the fields a Truceline feed uses). */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * A test client for text/event-stream over fetch: the parsing rules of the HTML standard
 * (lines, `field: value`, comments, a blank line ends an event), enough to follow a feed.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  private buffer = '';
  private current: { id?: string; event?: string; data?: string[] } = {};
  private ended = false;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string | URL, headers: Record<string, string>): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    const client = new SseClient(response, abort);
    if (response.ok && response.body) void client.read(response.body);
    return client;
  }

  get ids(): number[] {
    return this.events.map((e) => Number(e.id));
  }

  /** Waits until `ready` holds for what has arrived, or fails after `timeoutMs`. */
  async until(ready: (client: SseClient) => boolean, what: string, timeoutMs = 10_000) {
    const giveUpAt = Date.now() + timeoutMs;
    while (!ready(this)) {
      if (this.ended) throw new Error(`${what}: the stream ended (${this.events.length} events)`);
      if (Date.now() >= giveUpAt) {
        throw new Error(`${what}: not within ${timeoutMs} ms (${this.events.length} events)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      const reader = body.getReader();
      for (let read = await reader.read(); !read.done; read = await reader.read())
        this.feed(decoder.decode(read.value, { stream: true }));
    } catch {
      // Aborted by close(), or the server went away: either way the stream is over.
    } finally {
      this.ended = true;
    }
  }

  private feed(text: string): void {
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (line === '') {
      if (this.current.data !== undefined) {
        const { id, event, data } = this.current;
        this.events.push({ id, event, data: data.join('\n') });
      }
      this.current = {};
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.current.data = [...(this.current.data ?? []), value];
    if (field === 'id') this.current.id = value;
    if (field === 'event') this.current.event = value;
  }
}

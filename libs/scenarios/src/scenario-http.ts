import { setTimeout as sleep } from 'node:timers/promises';

export interface ApiResponse {
  status: number;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: unknown;
  /** How many failed connection attempts preceded this answer (0: none). */
  retries: number;
}

export interface RequestOptions {
  token: string;
  body?: unknown;
  idempotencyKey?: string;
  /** Overrides the client's retry window for this request. */
  retryWindowMs?: number;
}

export interface ScenarioHttpOptions {
  /** How long connection failures are retried before giving up (the server may be restarting). */
  retryWindowMs?: number;
  attemptTimeoutMs?: number;
}

/** Error codes of a connection that failed or was cut: the server is down or restarting. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** True for failures where the request may not have reached the server or its answer was lost. */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, name, cause, errors } = error as {
    code?: unknown;
    name?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  if (name === 'TimeoutError') return true;
  if (Array.isArray(errors) && errors.some(isConnectionError)) return true;
  return cause !== undefined && isConnectionError(cause);
}

/**
 * The runner's HTTP client. Connection failures and 503 are retried with backoff for up to a
 * minute: a command is always sent with its Idempotency-Key, so a retry whose first attempt did
 * reach the store returns the first response and appends nothing (SPEC §6). A 409
 * `idempotency-in-flight` (the first attempt is still being processed, or its process crashed
 * and the claim has not lapsed yet) is retried the same way, as the Idempotency-Key draft asks.
 */
export class ScenarioHttp {
  private readonly retryWindowMs: number;
  private readonly attemptTimeoutMs: number;

  constructor(
    private readonly baseUrl: string,
    options: ScenarioHttpOptions = {},
  ) {
    this.retryWindowMs = options.retryWindowMs ?? 60_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 30_000;
  }

  async request(method: string, path: string, options: RequestOptions): Promise<ApiResponse> {
    const url = new URL(path, this.baseUrl).toString();
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const retryWindowMs = options.retryWindowMs ?? this.retryWindowMs;
    const giveUpAt = Date.now() + retryWindowMs;
    for (let retries = 0, backoffMs = 100; ; retries++, backoffMs = Math.min(backoffMs * 2, 2000)) {
      try {
        const response = await fetch(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.attemptTimeoutMs),
        });
        const parsed = parseBody(await response.text());
        if (!retryable(response.status, parsed) || Date.now() >= giveUpAt) {
          return { status: response.status, body: parsed, retries };
        }
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        if (Date.now() >= giveUpAt) {
          throw new Error(
            `${method} ${url}: no connection for ${Math.round(retryWindowMs / 1000)} s (${describe(error)})`,
          );
        }
      }
      await sleep(Math.min(backoffMs, Math.max(giveUpAt - Date.now(), 0)));
    }
  }
}

const retryable = (status: number, body: unknown): boolean =>
  status === 503 ||
  (status === 409 && (body as { code?: unknown } | undefined)?.code === 'idempotency-in-flight');

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describe(error: unknown): string {
  const { code, cause, message } = error as { code?: string; cause?: unknown; message?: string };
  if (code) return code;
  if (cause) return describe(cause);
  return message ?? String(error);
}

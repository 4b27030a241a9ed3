import { signToken } from '@truceline/config';
import type { Role } from '@truceline/domain';
import type { InProcessSystem } from './in-process-system';
import type { GeneratedRequest } from './openapi';
import { eventually, freshSector, TrucelineApi } from './truceline-api';

/**
 * What the contract and hostile-input tests share: incidents to aim requests at, tokens of
 * every role, and a keep-alive client that sends many requests at once and keeps what came back.
 */

export const PARTNERS = ['UA', 'US', 'GB', 'PL', 'FR', 'DE', 'EU'];

/** The seed of a generated run: from `variable` to replay a run, else new each time. */
export const seedFrom = (variable: string): number =>
  Number(process.env[variable] ?? Date.now() % 1_000_000);

export interface Targets {
  incidentIds: string[];
  taskIds: string[];
}

/**
 * Incidents in several states — verifying, at tier 2 with coalition tasks, resolved — so that
 * generated requests reach the handlers and the state checks, not only the 404 of an unknown id.
 */
export async function seedTargets(api: TrucelineApi): Promise<Targets> {
  const verifying = await api.report(freshSector('contract'));
  const escalated = await api.report(freshSector('contract'));
  const resolved = await api.report(freshSector('contract'));
  await api.command(`/v1/incidents/${escalated}/verdict`, { verdict: 'confirmed', reason: 'seen' });
  await api.command(`/v1/incidents/${escalated}/hostilities`, { observation: 'shelling goes on' });
  await api.command(`/v1/incidents/${resolved}/resolution`, { resolution: 'false-alarm' });
  const tasks = await eventually(async () => {
    const view = await api.incident(escalated);
    return view.coalitionTasks.length > 0 ? view.coalitionTasks : undefined;
  }, 'coalition tasks of the escalated incident');
  return {
    incidentIds: [verifying, escalated, resolved],
    taskIds: tasks.map((task) => task.taskId),
  };
}

export interface Caller {
  role: Role;
  partner?: string;
}

export const tokenFor = (system: InProcessSystem, caller: Caller): string =>
  signToken(system.jwtSecret, {
    sub: `contract-${caller.role}${caller.partner ? `-${caller.partner}` : ''}`,
    role: caller.role,
    ...(caller.partner !== undefined && { partner: caller.partner }),
  });

export interface Sent {
  request: GeneratedRequest;
  status: number;
  headers: Headers;
  contentType: string;
  /** Parsed JSON, the text of anything else, undefined when empty or streamed. */
  body: unknown;
}

export interface RawRequest {
  method: string;
  /** Path and query, already encoded. */
  target: string;
  headers: Record<string, string>;
  /** Sent as is: JSON text, or anything a hostile client sends. */
  body?: string;
}

/**
 * Sends one request; an SSE response is cut once its head has arrived. A request that fails
 * below HTTP is sent once more: client and server share this process, and when it is busy a
 * keep-alive socket can be closed by the server's idle timer just as the client reuses it.
 * A second failure is the caller's to report.
 */
export async function send(baseUrl: string, raw: RawRequest): Promise<Omit<Sent, 'request'>> {
  try {
    return await sendOnce(baseUrl, raw);
  } catch {
    return sendOnce(baseUrl, raw);
  }
}

async function sendOnce(baseUrl: string, raw: RawRequest): Promise<Omit<Sent, 'request'>> {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}${raw.target}`, {
    method: raw.method,
    headers: raw.headers,
    body: raw.body,
    signal: abort.signal,
    redirect: 'manual',
  });
  const contentType = response.headers.get('content-type') ?? '';
  if (contentType.startsWith('text/event-stream')) {
    abort.abort();
    return { status: response.status, headers: response.headers, contentType, body: '' };
  }
  const text = await response.text();
  let body: unknown = text === '' ? undefined : text;
  if (text !== '' && /json/.test(contentType)) body = JSON.parse(text) as unknown;
  return { status: response.status, headers: response.headers, contentType, body };
}

/** Runs `work` over `items` with at most `concurrency` in flight, in order of completion. */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** The request a GeneratedRequest describes, with a token and a JSON body. */
export function toRaw(request: GeneratedRequest, token: string | undefined): RawRequest {
  const query = new URLSearchParams(request.query).toString();
  const headers: Record<string, string> = { ...request.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  return {
    method: request.operation.method,
    target: `${request.path}${query ? `?${query}` : ''}`,
    headers,
    ...(request.body !== undefined && { body: JSON.stringify(request.body) }),
  };
}

/** A one-line account of a request and its answer, for a finding. */
export function describe(raw: RawRequest, sent: Pick<Sent, 'status' | 'body'>): string {
  const body = raw.body === undefined ? '' : ` ${truncate(raw.body, 300)}`;
  const headers = Object.entries(raw.headers)
    .filter(([name]) => name !== 'authorization')
    .map(([name, value]) => `${name}: ${truncate(value, 60)}`)
    .join('; ');
  const answer = truncate(
    typeof sent.body === 'string' ? sent.body : JSON.stringify(sent.body ?? ''),
    400,
  );
  return `${raw.method} ${truncate(raw.target, 200)} [${headers}]${body} → ${sent.status} ${answer}`;
}

const truncate = (text: string, max: number) =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;

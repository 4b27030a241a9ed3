import { signToken, TokenClaims } from '@truceline/config';
import type { StoredEvent } from '@truceline/domain';
import type { IncidentView } from '@truceline/projections';
import { createTestDatabase } from '@truceline/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Who calls: the claims of the bearer token the request carries. */
export type Caller = TokenClaims;

export const OPERATOR: Caller = { sub: 'e2e-operator', role: 'operator' };
export const AUDITOR: Caller = { sub: 'e2e-auditor', role: 'auditor' };
export const SERVICE: Caller = { sub: 'e2e-service', role: 'service' };
export const verifierOf = (partner: string): Caller => ({
  sub: `e2e-verifier-${partner}`,
  role: 'verifier',
  partner,
});
export const ministryOf = (partner: string): Caller => ({
  sub: `e2e-ministry-${partner}`,
  role: 'ministry',
  partner,
});

export type Json = Record<string, unknown>;
export type LoggedEvent = StoredEvent<string, Json>;

export interface ApiResponse<T = Json> {
  status: number;
  headers: Headers;
  body: T;
}

export interface CallOptions {
  as?: Caller | null;
  body?: unknown;
  headers?: Record<string, string>;
}

/** RFC 9457 problem details as the API renders them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  reason?: string;
  errors?: { field: string; message: string }[];
}

/** 201 body of every command (SPEC §6). */
export interface Created {
  incidentId: string;
  eventId: string;
  revision: number;
  position: number;
}

export const HOUR_MS = 3_600_000;
export const hoursAfter = (iso: string, hours: number): string =>
  new Date(Date.parse(iso) + Math.round(hours * HOUR_MS)).toISOString();

/** A valid breach report; `overrides` replace top-level fields. */
export const breachReport = (sector: string, overrides: Record<string, unknown> = {}) => ({
  location: { sector, frontlineKm: 512.5, lat: 47.6, lon: 35.9 },
  category: 'artillery',
  severity: 'major',
  source: { kind: 'sensor', id: 'sensor-0412' },
  summary: 'Shelling near the line of contact',
  ...overrides,
});

/** A unique sector per test, so incidents of other tests never count as repeated violations. */
let sectors = 0;
export const freshSector = (label = 'S'): string =>
  `${label}-${process.pid}-${++sectors}-${Date.now().toString(36)}`;

/**
 * The real HTTP API as a client sees it: fetch, bearer tokens signed with the instance's key,
 * JSON bodies. Failing expectations show the whole response, not just the status.
 */
export class TrucelineApi {
  constructor(
    readonly baseUrl: string,
    private readonly jwtSecret: string,
  ) {}

  token(caller: Caller): string {
    return signToken(this.jwtSecret, caller);
  }

  async call<T = Json>(
    method: string,
    path: string,
    { as = OPERATOR, body, headers = {} }: CallOptions = {},
  ): Promise<ApiResponse<T>> {
    const all: Record<string, string> = { ...headers };
    if (as) all.authorization = `Bearer ${this.token(as)}`;
    if (body !== undefined) all['content-type'] = 'application/json';
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (metrics): keep the text.
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  }

  get<T = Json>(path: string, as: Caller = OPERATOR): Promise<ApiResponse<T>> {
    return this.call<T>('GET', path, { as });
  }

  post<T = Json>(
    path: string,
    body: unknown,
    as: Caller = OPERATOR,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>> {
    return this.call<T>('POST', path, { as, body, headers });
  }

  /** A command that must succeed: its 201 body. */
  async command(path: string, body: unknown, as: Caller = OPERATOR): Promise<Created> {
    return expectStatus(await this.post<Created>(path, body, as), 201);
  }

  /** Reports a breach and returns the new incident's id. */
  async report(sector: string, overrides: Record<string, unknown> = {}): Promise<string> {
    return (await this.command('/v1/incidents', breachReport(sector, overrides))).incidentId;
  }

  async incident(id: string, as: Caller = OPERATOR): Promise<IncidentView> {
    return expectStatus(await this.get<IncidentView>(`/v1/incidents/${id}`, as), 200);
  }

  async events(id: string): Promise<LoggedEvent[]> {
    const response = await this.get<{ events: LoggedEvent[] }>(`/v1/incidents/${id}/events`);
    return expectStatus(response, 200).events;
  }

  async eventsOfType(id: string, type: string): Promise<LoggedEvent[]> {
    return (await this.events(id)).filter((e) => e.type === type);
  }

  async clockNow(): Promise<string> {
    const response = await this.get<{ now: string }>('/v1/exercise/clock');
    return expectStatus(response, 200).now;
  }

  async advanceClock(now: string): Promise<void> {
    expectStatus(await this.post('/v1/exercise/clock', { now }), 200);
  }
}

/** The body of a response with the expected status; otherwise an error showing the response. */
export function expectStatus<T>(response: ApiResponse<T>, status: number): T {
  if (response.status !== status) {
    throw new Error(
      `expected HTTP ${status}, got ${response.status}: ${JSON.stringify(response.body)}`,
    );
  }
  return response.body;
}

/**
 * Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`
 * with the last value seen. For effects of the services and the scheduler, which happen
 * asynchronously after the request that caused them.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= giveUpAt) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Where a system keeps its data; systems started on the same location share it. */
export interface StoreLocation {
  databaseUrl?: string;
  dataDir?: string;
  drop(): Promise<void>;
}

export interface StoreUnderTest {
  name: string;
  /** A fresh, empty location: a new PostgreSQL database or a new PGlite data dir. */
  create(): Promise<StoreLocation>;
}

/** Both stores every e2e suite runs on (SPEC §8: the embedded store, or DATABASE_URL). */
export const STORES: StoreUnderTest[] = [
  {
    name: 'PGlite',
    create: async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'truceline-e2e-'));
      return { dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    create: async () => {
      const database = await createTestDatabase();
      return { databaseUrl: database.url, drop: () => database.drop() };
    },
  },
];

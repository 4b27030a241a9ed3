import { signToken } from '@truceline/config';
import type { IncidentAudit } from '@truceline/projections';
import { writeFileSync } from 'node:fs';
import { optionValue, ParsedArgs, rejectUnknownOptions, UsageError } from '../args';
import { apiBaseUrl, CliEnvironment, CliError, jwtSecret } from '../cli-environment';
import type { CliIo } from '../cli-io';
import { loadChartLibrary, renderAuditReport } from './audit-report.html';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const FORMATS = ['json', 'html'] as const;
/** The CLI reads as an auditor would; a short-lived token is enough for one request. */
const TOKEN_TTL_SECONDS = 300;

/**
 * `truceline audit ID [--as-of ISO] [--format json|html] [--out FILE]`: asks the API for the
 * incident's audit trail (GET /v1/incidents/{id}/audit) and prints it, or writes it to FILE —
 * as JSON, or as a self-contained HTML report a person reads and prints.
 */
export async function auditCommand(
  args: ParsedArgs,
  env: CliEnvironment,
  io: CliIo,
): Promise<number> {
  rejectUnknownOptions(args, ['as-of', 'format', 'out', 'url', 'secret', 'token']);
  const [incidentId, ...extra] = args.positionals;
  if (!incidentId) throw new UsageError('audit needs an INCIDENT_ID');
  if (extra.length > 0)
    throw new UsageError(`audit takes one INCIDENT_ID, not also: ${extra.join(' ')}`);
  if (!UUID.test(incidentId)) throw new UsageError(`INCIDENT_ID must be a UUID: ${incidentId}`);
  const asOf = optionValue(args, 'as-of');
  if (asOf !== undefined && (!INSTANT.test(asOf) || Number.isNaN(Date.parse(asOf))))
    throw new UsageError(
      `--as-of must be an ISO 8601 instant with an offset, e.g. 2026-03-06T12:00:00Z: ${asOf}`,
    );
  const format = optionValue(args, 'format') ?? 'json';
  if (!(FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format must be json or html: ${format}`);
  const out = optionValue(args, 'out');
  const baseUrl = apiBaseUrl(optionValue(args, 'url'), env);
  const token =
    optionValue(args, 'token') ??
    signToken(
      jwtSecret(optionValue(args, 'secret'), env),
      { sub: 'truceline-cli', role: 'auditor' },
      TOKEN_TTL_SECONDS,
    );

  const audit = await fetchAudit(baseUrl, token, incidentId.toLowerCase(), asOf);
  const text =
    format === 'html'
      ? renderAuditReport(audit, { chartLibrary: loadChartLibrary(), generatedAt: new Date() })
      : `${JSON.stringify(audit, null, 2)}\n`;
  if (out === undefined) {
    io.out(text.trimEnd());
    return 0;
  }
  try {
    writeFileSync(out, text);
  } catch (error) {
    throw new CliError(`cannot write ${out}: ${(error as Error).message}`);
  }
  io.out(`audit of incident ${audit.incidentId} as of ${audit.asOf} written to ${out} (${format})`);
  return 0;
}

async function fetchAudit(
  baseUrl: string,
  token: string,
  incidentId: string,
  asOf: string | undefined,
): Promise<IncidentAudit> {
  const query = asOf === undefined ? '' : `?asOf=${encodeURIComponent(asOf)}`;
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/v1/incidents/${incidentId}/audit${query}`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const { code, message } =
      (error as { cause?: { code?: string; message?: string } }).cause ?? {};
    const cause = code ?? message;
    throw new CliError(
      `cannot reach the API at ${baseUrl} (${cause ?? (error as Error).message}); ` +
        'is it running? (--url, or PORT for this machine)',
    );
  }
  const body = (await response.json().catch(() => null)) as unknown;
  if (response.ok) return body as IncidentAudit;
  const detail = (body as { detail?: unknown } | null)?.detail;
  switch (response.status) {
    case 404:
      throw new CliError(
        `no incident ${incidentId}${asOf ? ` known as of ${asOf}` : ''} (the API answered 404)`,
      );
    case 401:
    case 403:
      throw new CliError(
        `the API at ${baseUrl} refused the token (${response.status}${detail ? `: ${detail}` : ''}): ` +
          "sign with the API's secret (--secret, TRUCELINE_JWT_SECRET) or pass an auditor's --token",
      );
    default:
      throw new CliError(
        `GET /v1/incidents/${incidentId}/audit → ${response.status}${detail ? `: ${detail}` : ''}`,
      );
  }
}

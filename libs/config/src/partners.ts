import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  MinLength,
  ValidateNested,
  validateSync,
  ValidationError,
} from 'class-validator';
import { readFileSync } from 'node:fs';

/** HMAC-SHA256 keys shorter than this are guessable; partners get at least 128 bits. */
export const MIN_WEBHOOK_SECRET_LENGTH = 16;

export interface WarningChannelSetting {
  readonly channel: string;
  readonly recipient: string;
}

/** Where a partner's notices go and the key they are signed with (SPEC §5, §8). */
export interface PartnerWebhook {
  readonly partner: string;
  readonly webhookUrl: string;
  readonly secret: string;
}

/** The validated TRUCELINE_PARTNERS_FILE: frozen, like the rest of the configuration. */
export interface PartnerDirectory {
  /** The agreed international channel the diplomatic warning goes through. */
  readonly warningChannel: WarningChannelSetting;
  /** Partners with a webhook, by partner code. A partner not listed gets no webhook. */
  readonly webhooks: ReadonlyMap<string, PartnerWebhook>;
}

export const DEFAULT_WARNING_CHANNEL: WarningChannelSetting = Object.freeze({
  channel: 'agreed-international-channel',
  recipient: 'RU',
});

export interface PartnersProblem {
  field: string;
  message: string;
}

/** Every bad field of the partners file at once; secrets are never echoed. */
export class PartnersFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly PartnersProblem[],
  ) {
    super(
      `Invalid partners file ${file}:\n${problems.map((p) => `  - ${p.field}: ${p.message}`).join('\n')}`,
    );
    this.name = 'PartnersFileError';
  }
}

const NON_EMPTY = { message: 'must be a non-empty string' };

class WarningChannelEntry {
  @IsString(NON_EMPTY)
  @IsNotEmpty(NON_EMPTY)
  channel!: string;

  @IsString(NON_EMPTY)
  @IsNotEmpty(NON_EMPTY)
  recipient!: string;
}

class PartnerEntry {
  // No TLD required: a partner's endpoint may be an internal host or an IP address.
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'must be an http:// or https:// URL' },
  )
  webhookUrl!: string;

  @IsString()
  @MinLength(MIN_WEBHOOK_SECRET_LENGTH, {
    message: `must be a string of at least ${MIN_WEBHOOK_SECRET_LENGTH} characters`,
  })
  secret!: string;
}

class PartnersFile {
  @IsOptional()
  @ValidateNested({ message: 'must be an object { channel, recipient }' })
  @Type(() => WarningChannelEntry)
  warningChannel?: WarningChannelEntry;

  // Keys are partner codes, so each entry is validated on its own below (class-validator has no
  // notion of a map with free keys).
  @IsOptional()
  @IsObject({ message: 'must be an object: partner code → { webhookUrl, secret }' })
  partners?: Record<string, unknown>;
}

const PARTNER_CODE = /^[A-Z]{2}$/;
const STRICT = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  stopAtFirstError: true,
};

/**
 * Reads TRUCELINE_PARTNERS_FILE (SPEC §8) once at boot:
 * `{ "warningChannel"?: { channel, recipient }, "partners": { "<CODE>": { webhookUrl, secret } } }`.
 * Without a file: no webhooks and the default warning channel. Throws PartnersFileError naming
 * every bad field.
 */
export function loadPartners(file?: string): PartnerDirectory {
  if (file === undefined) return directory(DEFAULT_WARNING_CHANNEL, []);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PartnersFileError(file, [{ field: '(file)', message: (error as Error).message }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PartnersFileError(file, [
      { field: '(file)', message: `not valid JSON: ${(error as Error).message}` },
    ]);
  }
  return parsePartners(json, file);
}

/** Validates an already parsed partners document; `source` names it in errors. */
export function parsePartners(json: unknown, source = 'partners'): PartnerDirectory {
  if (!isPlainObject(json)) {
    throw new PartnersFileError(source, [{ field: '(root)', message: 'must be a JSON object' }]);
  }
  const parsed = plainToInstance(PartnersFile, json);
  const problems = validateSync(parsed, STRICT).flatMap((e) => toProblems(e));
  const webhooks: PartnerWebhook[] = [];
  const partners = isPlainObject(parsed.partners) ? parsed.partners : {};
  for (const [code, value] of Object.entries(partners)) {
    const field = `partners.${code}`;
    if (!PARTNER_CODE.test(code)) {
      problems.push({ field, message: 'must be an ISO 3166-1 alpha-2 code or EU (upper case)' });
    }
    if (!isPlainObject(value)) {
      problems.push({ field, message: 'must be an object { webhookUrl, secret }' });
      continue;
    }
    const entry = plainToInstance(PartnerEntry, value);
    const entryProblems = validateSync(entry, STRICT).flatMap((e) => toProblems(e, field));
    problems.push(...entryProblems);
    if (entryProblems.length === 0) {
      webhooks.push({ partner: code, webhookUrl: entry.webhookUrl, secret: entry.secret });
    }
  }
  if (problems.length > 0) throw new PartnersFileError(source, problems);
  const channel = parsed.warningChannel
    ? { channel: parsed.warningChannel.channel, recipient: parsed.warningChannel.recipient }
    : DEFAULT_WARNING_CHANNEL;
  return directory(channel, webhooks);
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function directory(channel: WarningChannelSetting, webhooks: PartnerWebhook[]): PartnerDirectory {
  const sorted = [...webhooks].sort((a, b) => a.partner.localeCompare(b.partner));
  return Object.freeze({
    warningChannel: Object.freeze({ ...channel }),
    webhooks: new Map(sorted.map((w) => [w.partner, Object.freeze(w)])),
  });
}

function toProblems(error: ValidationError, prefix?: string): PartnersProblem[] {
  const field = prefix ? `${prefix}.${error.property}` : error.property;
  const own = Object.entries(error.constraints ?? {}).map(([rule, message]) => ({
    field,
    message: rule === 'whitelistValidation' ? 'is not a known setting' : message,
  }));
  return [...own, ...(error.children ?? []).flatMap((child) => toProblems(child, field))];
}

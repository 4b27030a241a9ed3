import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsDefined,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  ValidateNested,
  validateSync,
  ValidationError,
} from 'class-validator';
import { readFileSync } from 'node:fs';

/**
 * Standard Webhooks secrets: `whsec_` + base64 of 24 to 64 random bytes (at least 192 bits), the
 * form its libraries take as they are. `openssl rand -base64 32 | sed 's/^/whsec_/'` makes one.
 */
export const WEBHOOK_SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]+={0,2}$/;
export const MIN_WEBHOOK_KEY_BYTES = 24;
export const MAX_WEBHOOK_KEY_BYTES = 64;
/** Old and new while a secret rotates; more would only be a forgotten one. */
export const MAX_WEBHOOK_SECRETS = 2;

export interface WarningChannelSetting {
  readonly channel: string;
  readonly recipient: string;
}

/** Where a partner's notices go and the keys they are signed with (SPEC §5, §8). */
export interface PartnerWebhook {
  readonly partner: string;
  readonly webhookUrl: string;
  /** One secret, or two while it rotates: every request carries a signature per secret. */
  readonly secrets: readonly string[];
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

  // A string, or a list while the secret rotates: checked below, class-validator has no unions.
  @IsDefined({ message: 'is required' })
  secret!: unknown;
}

const SECRET_FORM =
  `must be whsec_ followed by the base64 of ${MIN_WEBHOOK_KEY_BYTES} to ${MAX_WEBHOOK_KEY_BYTES} ` +
  `random bytes (openssl rand -base64 32 | sed 's/^/whsec_/'), or a list of ` +
  `${MAX_WEBHOOK_SECRETS} such secrets while one rotates`;

/** The secrets of one entry, or a problem; a secret is never echoed. */
function secretsOf(value: unknown): string[] | string {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_WEBHOOK_SECRETS) {
    return SECRET_FORM;
  }
  for (const secret of list) {
    if (typeof secret !== 'string' || !WEBHOOK_SECRET_PATTERN.test(secret)) return SECRET_FORM;
    const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
    if (bytes < MIN_WEBHOOK_KEY_BYTES || bytes > MAX_WEBHOOK_KEY_BYTES) return SECRET_FORM;
  }
  if (new Set(list).size !== list.length) return 'lists the same secret twice';
  return list as string[];
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
 * `{ "warningChannel"?: { channel, recipient }, "partners": { "<CODE>": { webhookUrl, secret } } }`
 * where `secret` is a Standard Webhooks secret, or a list of two while it rotates.
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
    const secrets = 'secret' in value ? secretsOf(entry.secret) : [];
    if (typeof secrets === 'string') {
      entryProblems.push({ field: `${field}.secret`, message: secrets });
    }
    problems.push(...entryProblems);
    if (entryProblems.length === 0 && typeof secrets !== 'string') {
      webhooks.push({
        partner: code,
        webhookUrl: entry.webhookUrl,
        secrets: Object.freeze([...secrets]),
      });
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

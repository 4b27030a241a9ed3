import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_WARNING_CHANNEL, loadPartners, PartnersFileError } from './partners';

const secret = (fill: number, bytes = 32) =>
  `whsec_${Buffer.alloc(bytes, fill).toString('base64')}`;
const GB = { webhookUrl: 'https://hooks.example.org/truceline', secret: secret(1) };
const PL = { webhookUrl: 'http://10.0.4.7:8443/notices', secret: secret(2) };

describe(loadPartners.name, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'truceline-partners-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const fileWith = (content: unknown): string => {
    const file = join(dir, 'partners.json');
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };

  const problemsOf = (content: unknown) => {
    try {
      loadPartners(fileWith(content));
    } catch (error) {
      if (error instanceof PartnersFileError) return error.problems;
      throw error;
    }
    throw new Error('expected a PartnersFileError');
  };

  it('without a file: no webhooks and the default warning channel', () => {
    const sut = loadPartners(undefined);

    expect(sut.webhooks.size).toBe(0);
    expect(sut.warningChannel).toEqual(DEFAULT_WARNING_CHANNEL);
  });

  it('reads every partner and the warning channel', () => {
    const sut = loadPartners(
      fileWith({
        warningChannel: { channel: 'osce-permanent-council', recipient: 'RU-MFA' },
        partners: { PL, GB },
      }),
    );

    expect(sut.warningChannel).toEqual({ channel: 'osce-permanent-council', recipient: 'RU-MFA' });
    expect([...sut.webhooks.values()]).toEqual([
      { partner: 'GB', webhookUrl: GB.webhookUrl, secrets: [GB.secret] },
      { partner: 'PL', webhookUrl: PL.webhookUrl, secrets: [PL.secret] },
    ]);
    expect(Object.isFrozen(sut)).toBe(true);
  });

  it('keeps the default warning channel when the file names none', () => {
    const sut = loadPartners(fileWith({ partners: { GB } }));

    expect(sut.warningChannel).toEqual(DEFAULT_WARNING_CHANNEL);
    expect(sut.webhooks.get('GB')?.secrets).toEqual([GB.secret]);
  });

  it('takes the old and the new secret while one rotates', () => {
    const sut = loadPartners(
      fileWith({ partners: { GB: { ...GB, secret: [secret(1), secret(3)] } } }),
    );

    expect(sut.webhooks.get('GB')?.secrets).toEqual([secret(1), secret(3)]);
  });

  it.each([
    ['a plain string', 'gb-secret-0123456789-abcdef'],
    ['too few key bytes', secret(1, 23)],
    ['too many key bytes', secret(1, 65)],
    ['no whsec_ prefix', Buffer.alloc(32, 1).toString('base64')],
    ['not base64', 'whsec_not*base64*at*all*0123456789'],
    ['an empty list', []],
    ['three secrets', [secret(1), secret(2), secret(3)]],
    ['the same secret twice', [secret(1), secret(1)]],
    ['a number', 42],
  ])('refuses %s as a secret, without echoing it', (_name, bad) => {
    const problems = problemsOf({ partners: { GB: { ...GB, secret: bad } } });

    expect(problems.map((p) => p.field)).toEqual(['partners.GB.secret']);
    if (typeof bad === 'string') expect(JSON.stringify(problems)).not.toContain(bad);
  });

  it('requires a secret', () => {
    const problems = problemsOf({ partners: { GB: { webhookUrl: GB.webhookUrl } } });

    expect(problems).toEqual([{ field: 'partners.GB.secret', message: 'is required' }]);
  });

  it('names every bad field in one error, without echoing secrets', () => {
    const problems = problemsOf({
      warningChannel: { channel: '' },
      partners: {
        GB: { webhookUrl: 'ftp://hooks.example.org', secret: 'short-secret' },
        gb: PL,
        FR: { webhookUrl: 'https://fr.example.org', secret: secret(4), extra: 1 },
        DE: 'https://de.example.org',
      },
      retries: 3,
    });

    expect(problems.map((p) => p.field).sort()).toEqual([
      'partners.DE',
      'partners.FR.extra',
      'partners.GB.secret',
      'partners.GB.webhookUrl',
      'partners.gb',
      'retries',
      'warningChannel.channel',
      'warningChannel.recipient',
    ]);
    expect(JSON.stringify(problems)).not.toContain('short-secret');
  });
  it('reports a file that is not JSON, naming the file', () => {
    const file = fileWith('{ "partners": ');

    expect(() => loadPartners(file)).toThrow(PartnersFileError);
    expect(() => loadPartners(file)).toThrow(new RegExp(`${file}[\\s\\S]*not valid JSON`));
  });

  it('reports a file it cannot read', () => {
    expect(() => loadPartners(join(dir, 'missing.json'))).toThrow(/\(file\): ENOENT/);
  });

  it.each([['[]'], ['"partners"'], ['{ "partners": [] }']])('rejects %s', (content) => {
    expect(() => loadPartners(fileWith(content))).toThrow(PartnersFileError);
  });
});

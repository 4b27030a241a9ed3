import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey, parseSigningKey } from '@truceline/ledger';
import { devSecretPath, devSigningKeyPath } from './dev-secret';
import { ConfigError, loadConfig, signingKeyOf } from './load-config';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const SIGNING_KEY = generateSigningKey('truceline/config-spec');

describe(loadConfig.name, () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'truceline-config-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const problemsOf = (env: Record<string, string | undefined>) => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    throw new Error('expected a ConfigError');
  };

  it('applies the defaults of SPEC §8', () => {
    const sut = loadConfig({ TRUCELINE_JWT_SECRET: SECRET });

    expect(sut).toEqual({
      port: 3000,
      dataDir: './data',
      databaseUrl: undefined,
      kafkaBrokers: undefined,
      jwtSecret: SECRET,
      jwtSecretGenerated: false,
      clock: 'system',
      clockStart: undefined,
      partnersFile: undefined,
      signingKey: undefined,
      production: false,
      idempotencyTtlHours: 24,
      logLevel: 'info',
    });
    expect(Object.isFrozen(sut)).toBe(true);
  });

  it('reads every variable it knows of', () => {
    const partnersFile = join(dataDir, 'partners.json');
    writeFileSync(partnersFile, '{}');

    const sut = loadConfig({
      PORT: '8080',
      TRUCELINE_DATA_DIR: dataDir,
      DATABASE_URL: 'postgres://truceline:pw@db:5432/truceline',
      KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092,',
      TRUCELINE_JWT_SECRET: SECRET,
      TRUCELINE_CLOCK: 'exercise',
      TRUCELINE_CLOCK_START: '2025-06-01T10:00:00+02:00',
      TRUCELINE_PARTNERS_FILE: partnersFile,
      TRUCELINE_SIGNING_KEY: SIGNING_KEY,
      NODE_ENV: 'production',
      LOG_LEVEL: 'debug',
      TRUCELINE_IDEMPOTENCY_TTL_HOURS: '48',
    });

    expect(sut).toEqual({
      port: 8080,
      dataDir,
      databaseUrl: 'postgres://truceline:pw@db:5432/truceline',
      kafkaBrokers: ['kafka-1:9092', 'kafka-2:9092'],
      jwtSecret: SECRET,
      jwtSecretGenerated: false,
      clock: 'exercise',
      clockStart: '2025-06-01T08:00:00.000Z',
      partnersFile,
      signingKey: SIGNING_KEY,
      production: true,
      idempotencyTtlHours: 48,
      logLevel: 'debug',
    });
  });

  it('treats blank values as unset', () => {
    const sut = loadConfig({ TRUCELINE_JWT_SECRET: SECRET, DATABASE_URL: '', PORT: '  ' });

    expect(sut.databaseUrl).toBeUndefined();
    expect(sut.port).toBe(3000);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['DATABASE_URL', 'mysql://db/truceline'],
    ['KAFKA_BROKERS', 'kafka-without-port'],
    ['KAFKA_BROKERS', ',,'],
    ['TRUCELINE_CLOCK', 'manual'],
    ['TRUCELINE_CLOCK_START', 'yesterday'],
    ['TRUCELINE_CLOCK_START', '2025-06-01T10:00:00'],
    ['LOG_LEVEL', 'chatty'],
  ])('reports %s=%s', (variable, value) => {
    const env = { TRUCELINE_JWT_SECRET: SECRET, TRUCELINE_CLOCK: 'exercise', [variable]: value };

    expect(problemsOf(env).map((p) => p.variable)).toEqual([variable]);
  });

  it('reports every bad variable in one error, without echoing values', () => {
    const problems = problemsOf({
      PORT: 'abc',
      TRUCELINE_CLOCK: 'manual',
      LOG_LEVEL: 'chatty',
      NODE_ENV: 'production',
      TRUCELINE_JWT_SECRET: 'short-secret-value',
    });

    expect(problems.map((p) => p.variable).sort()).toEqual([
      'LOG_LEVEL',
      'PORT',
      'TRUCELINE_CLOCK',
      'TRUCELINE_JWT_SECRET',
      'TRUCELINE_SIGNING_KEY',
    ]);
    expect(() => loadConfig({ PORT: 'abc', TRUCELINE_JWT_SECRET: SECRET })).toThrow(
      /Invalid environment:\n {2}- PORT: /,
    );
    expect(JSON.stringify(problems)).not.toContain('short-secret-value');
  });

  it('reports a clock start without the exercise clock', () => {
    const problems = problemsOf({
      TRUCELINE_JWT_SECRET: SECRET,
      TRUCELINE_CLOCK_START: '2025-06-01T08:00:00Z',
    });

    expect(problems).toEqual([
      { variable: 'TRUCELINE_CLOCK_START', message: expect.stringContaining('TRUCELINE_CLOCK') },
    ]);
  });

  it('reads the settings of a service process', () => {
    const sut = loadConfig({
      TRUCELINE_JWT_SECRET: SECRET,
      METRICS_PORT: '9464',
      TRUCELINE_SERVICE_INSTANCE: 'verification-2',
    });

    expect(sut).toMatchObject({ metricsPort: 9464, serviceInstance: 'verification-2' });
    expect(problemsOf({ METRICS_PORT: '70000', TRUCELINE_SERVICE_INSTANCE: 'a b' })).toEqual([
      { variable: 'METRICS_PORT', message: expect.any(String) },
      { variable: 'TRUCELINE_SERVICE_INSTANCE', message: expect.any(String) },
    ]);
  });

  it('reports a partners file that does not exist', () => {
    const problems = problemsOf({
      TRUCELINE_JWT_SECRET: SECRET,
      TRUCELINE_PARTNERS_FILE: join(dataDir, 'missing.json'),
    });

    expect(problems).toEqual([{ variable: 'TRUCELINE_PARTNERS_FILE', message: 'file not found' }]);
  });

  describe('Kafka security', () => {
    const BROKERS = { TRUCELINE_JWT_SECRET: SECRET, KAFKA_BROKERS: '127.0.0.1:9093' };
    const file = (name: string) => {
      const path = join(dataDir, name);
      writeFileSync(path, '-----BEGIN CERTIFICATE-----\n');
      return path;
    };

    it('reads SASL and TLS settings, the mechanism in any case', () => {
      const ca = file('ca.pem');
      const sut = loadConfig({
        ...BROKERS,
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        KAFKA_SASL_USERNAME: 'relay',
        KAFKA_SASL_PASSWORD: 'relay-password',
        KAFKA_SSL_CA_FILE: ca,
      });

      expect(sut.kafkaSecurity).toEqual({
        sasl: { mechanism: 'scram-sha-512', username: 'relay', password: 'relay-password' },
        ssl: { caFile: ca, certFile: undefined, keyFile: undefined },
      });
    });

    it('has none without the variables: plaintext as before', () => {
      expect(loadConfig(BROKERS).kafkaSecurity).toBeUndefined();
    });

    it('names every half-given or wrong setting', () => {
      const problems = problemsOf({
        ...BROKERS,
        KAFKA_SASL_MECHANISM: 'gssapi',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SSL_CERT_FILE: file('cert.pem'),
        KAFKA_SSL_CA_FILE: join(dataDir, 'missing-ca.pem'),
      });

      expect(problems).toEqual(
        expect.arrayContaining([
          { variable: 'KAFKA_SASL_MECHANISM', message: expect.stringContaining('scram-sha-256') },
          { variable: 'KAFKA_SASL_USERNAME', message: expect.stringContaining('required') },
          { variable: 'KAFKA_SSL_KEY_FILE', message: expect.stringContaining('set both') },
          { variable: 'KAFKA_SSL_CA_FILE', message: 'file not found' },
        ]),
      );
      expect(JSON.stringify(problems)).not.toContain('"p"');
    });

    it('refuses them without KAFKA_BROKERS', () => {
      expect(
        problemsOf({ TRUCELINE_JWT_SECRET: SECRET, KAFKA_SSL_CA_FILE: file('ca.pem') }),
      ).toEqual([
        {
          variable: 'KAFKA_SSL_CA_FILE',
          message: 'only applies with KAFKA_BROKERS: set it as well',
        },
      ]);
    });
  });

  describe('identity provider', () => {
    const IDP = {
      TRUCELINE_JWKS_URL: 'https://idp.example.org/realms/truceline/certs',
      TRUCELINE_JWT_ISSUER: 'https://idp.example.org/realms/truceline',
      TRUCELINE_JWT_AUDIENCE: 'truceline-api',
    };

    it('reads the JWKS URL, issuer and audience, and generates no development secret', () => {
      const sut = loadConfig({
        ...IDP,
        NODE_ENV: 'production',
        TRUCELINE_DATA_DIR: dataDir,
        TRUCELINE_SIGNING_KEY: SIGNING_KEY,
      });

      expect(sut.jwks).toEqual({
        url: IDP.TRUCELINE_JWKS_URL,
        issuer: IDP.TRUCELINE_JWT_ISSUER,
        audience: IDP.TRUCELINE_JWT_AUDIENCE,
      });
      expect(sut.jwtSecretGenerated).toBe(false);
      expect(() => statSync(devSecretPath(dataDir))).toThrow(/ENOENT/);
    });

    it('requires the issuer and the audience with the JWKS URL', () => {
      const problems = problemsOf({ TRUCELINE_JWKS_URL: IDP.TRUCELINE_JWKS_URL });

      expect(problems.map((p) => p.variable).sort()).toEqual([
        'TRUCELINE_JWT_AUDIENCE',
        'TRUCELINE_JWT_ISSUER',
      ]);
    });

    it('refuses an issuer or audience without a JWKS URL, and a JWKS URL that is not http(s)', () => {
      expect(
        problemsOf({ TRUCELINE_JWT_SECRET: SECRET, TRUCELINE_JWT_ISSUER: 'x' }).map(
          (p) => p.variable,
        ),
      ).toEqual(['TRUCELINE_JWT_ISSUER']);
      expect(problemsOf({ ...IDP, TRUCELINE_JWKS_URL: 'file:///etc/jwks.json' })).toEqual([
        { variable: 'TRUCELINE_JWKS_URL', message: 'must be an http:// or https:// URL' },
      ]);
    });
  });

  describe('production', () => {
    it('refuses to start without TRUCELINE_JWT_SECRET and TRUCELINE_SIGNING_KEY', () => {
      const problems = problemsOf({ NODE_ENV: 'production', TRUCELINE_DATA_DIR: dataDir });

      expect(problems).toEqual([
        { variable: 'TRUCELINE_JWT_SECRET', message: expect.stringContaining('production') },
        { variable: 'TRUCELINE_SIGNING_KEY', message: expect.stringContaining('production') },
      ]);
    });

    it('never creates a development secret', () => {
      problemsOf({ NODE_ENV: 'production', TRUCELINE_DATA_DIR: dataDir });

      expect(() => statSync(devSecretPath(dataDir))).toThrow(/ENOENT/);
    });

    it('accepts short secrets outside production only', () => {
      expect(loadConfig({ TRUCELINE_JWT_SECRET: 'dev' }).jwtSecret).toBe('dev');
      expect(
        problemsOf({
          NODE_ENV: 'production',
          TRUCELINE_JWT_SECRET: 'dev',
          TRUCELINE_SIGNING_KEY: SIGNING_KEY,
        }),
      ).toHaveLength(1);
    });
  });

  describe('signing key', () => {
    it.each([
      ['not a key', /signer key/],
      [generateSigningKey('someone-else'), /truceline\/<deployment>/],
      [SIGNING_KEY.replace(/\+[0-9a-f]{8}\+/, '+00000000+'), /key hash/],
    ])('reports TRUCELINE_SIGNING_KEY=%s', (key, message) => {
      expect(problemsOf({ TRUCELINE_JWT_SECRET: SECRET, TRUCELINE_SIGNING_KEY: key })).toEqual([
        { variable: 'TRUCELINE_SIGNING_KEY', message: expect.stringMatching(message) },
      ]);
    });

    it('without one, a development key is created once in the data directory, mode 0600', () => {
      const config = loadConfig({ TRUCELINE_JWT_SECRET: SECRET, TRUCELINE_DATA_DIR: dataDir });

      const sut = signingKeyOf(config);

      expect(parseSigningKey(sut).name).toMatch(/^truceline\/dev-[0-9a-f]{8}$/);
      expect(signingKeyOf(config)).toBe(sut);
      expect(statSync(devSigningKeyPath(dataDir)).mode & 0o777).toBe(0o600);
      expect(
        signingKeyOf(
          loadConfig({ TRUCELINE_JWT_SECRET: SECRET, TRUCELINE_SIGNING_KEY: SIGNING_KEY }),
        ),
      ).toBe(SIGNING_KEY);
    });
  });

  describe('development secret', () => {
    it('is generated on first start into <dataDir>/.dev-jwt-secret, mode 0600', () => {
      const sut = loadConfig({ TRUCELINE_DATA_DIR: join(dataDir, 'nested') });

      const path = devSecretPath(join(dataDir, 'nested'));
      expect(sut.jwtSecretGenerated).toBe(true);
      expect(sut.jwtSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(readFileSync(path, 'utf8').trim()).toBe(sut.jwtSecret);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    });

    it('survives a restart', () => {
      const first = loadConfig({ TRUCELINE_DATA_DIR: dataDir });

      const sut = loadConfig({ TRUCELINE_DATA_DIR: dataDir });

      expect(sut.jwtSecret).toBe(first.jwtSecret);
      expect(sut.jwtSecretGenerated).toBe(true);
    });

    it('replaces an empty secret file', () => {
      writeFileSync(devSecretPath(dataDir), '\n', { mode: 0o644 });

      const sut = loadConfig({ TRUCELINE_DATA_DIR: dataDir });

      expect(sut.jwtSecret).toHaveLength(43);
      expect(statSync(devSecretPath(dataDir)).mode & 0o777).toBe(0o600);
    });

    it('is not touched when TRUCELINE_JWT_SECRET is set', () => {
      loadConfig({ TRUCELINE_DATA_DIR: dataDir, TRUCELINE_JWT_SECRET: SECRET });

      expect(() => statSync(devSecretPath(dataDir))).toThrow(/ENOENT/);
    });
  });
});

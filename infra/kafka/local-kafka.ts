/**
 * A single-node Apache Kafka (KRaft: broker and controller in one JVM) on 127.0.0.1, for the
 * test run (test/global-setup.ts) and local development (`npm run kafka`).
 *
 * The broker's jars come from Maven Central through Maven (infra/kafka/pom.xml pins the
 * version), copied once into infra/kafka/libs/<version>/ (git-ignored) and cached by the local
 * Maven repository. Every start gets fresh storage in a temporary directory that stop() removes.
 * Nothing here ever skips: when no broker can be had, these functions throw.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';

export interface SaslUser {
  name: string;
  password: string;
}

export interface LocalKafkaOptions {
  /** Client port; a free one when absent. */
  port?: number;
  /** KRaft controller port; a free one when absent. */
  controllerPort?: number;
  /**
   * SASL on the client listener (SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, every user under each),
   * StandardAuthorizer, no access without an ACL. The SCRAM users are created at format time;
   * `superUser` (one of them) may do anything.
   */
  sasl?: { users: SaslUser[]; superUser: string };
  /**
   * TLS on the client listener (SASL_SSL with `sasl`, SSL without): a throwaway CA and a broker
   * certificate for 127.0.0.1 are generated with openssl for this run; clients trust `tls.caFile`.
   */
  tls?: boolean;
  /** Directory for the broker log, kept after stop(); by default the log lives and dies with the run. */
  logDir?: string;
  /** More server.properties entries (they win over the defaults). */
  properties?: Record<string, string | number | boolean>;
  /**
   * Time the starting broker may go without a new line in its log before it counts as stuck,
   * and then to answer a client once it says it started (default 60 s each). A broker that
   * keeps logging its progress is waited for: on a loaded machine its start takes longer.
   */
  timeoutMs?: number;
  /** Progress lines (jar fetch); silent when absent. */
  log?: (line: string) => void;
}

export interface LocalKafka {
  /** `127.0.0.1:<port>`, for kafkajs `brokers` and KAFKA_BROKERS. */
  brokers: string[];
  version: string;
  /** Client SASL settings of the super user, when started with `sasl`. */
  sasl?: SASLOptions;
  /** The CA that signed the broker's certificate (PEM), when started with `tls`. */
  tls?: { caFile: string };
  /** The broker's storage (log.dirs), inside the run's temporary directory. */
  dataDir: string;
  logFile: string;
  /** Process id of the broker JVM. */
  pid: number;
  /** Milliseconds spent on StorageTool format, and from JVM start to an answering broker. */
  timings: { formatMs: number; startMs: number };
  /** SIGTERM, SIGKILL after 10 s, then the temporary directory is removed. Idempotent. */
  stop(): Promise<void>;
  /** Last resort from a process 'exit' handler: SIGKILL and remove the files. */
  stopSync(): void;
}

const READY_LINE = 'Kafka Server started';
const HOST = '127.0.0.1';

/** The folder of pom.xml and log4j2.xml, from the sources or from their build under dist/. */
export function kafkaHome(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const home = join(dir, 'infra', 'kafka');
    if (existsSync(join(dir, 'package.json')) && existsSync(join(home, 'pom.xml'))) return home;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`infra/kafka/pom.xml not found above ${__dirname}`);
}

/** The Apache Kafka version pinned in infra/kafka/pom.xml. */
export function kafkaVersion(): string {
  const pom = readFileSync(join(kafkaHome(), 'pom.xml'), 'utf8');
  const version = /<kafka\.version>\s*([^<\s]+)\s*<\/kafka\.version>/.exec(pom)?.[1];
  if (!version) throw new Error('infra/kafka/pom.xml does not set <kafka.version>');
  return version;
}

/**
 * The folder of the broker's jars, fetched with Maven when missing or incomplete. A fetch goes
 * to a temporary folder renamed into place once complete, so a half fetch is never used.
 */
export async function ensureKafkaJars(
  log: (line: string) => void = () => undefined,
): Promise<string> {
  const home = kafkaHome();
  const version = kafkaVersion();
  const libs = join(home, 'libs', version);
  if (await isComplete(libs)) return libs;

  const started = Date.now();
  log(`[kafka] fetching the jars of Apache Kafka ${version} with Maven (once per version)…`);
  await mkdir(join(home, 'libs'), { recursive: true });
  const staging = await mkdtemp(join(home, 'libs', `.fetch-${version}-`));
  const heartbeat = setInterval(
    () => log(`[kafka] still fetching (${Math.round((Date.now() - started) / 1000)} s)…`),
    15_000,
  );
  try {
    const args = [
      '-B',
      '-q',
      '-f',
      join(home, 'pom.xml'),
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${staging}`,
    ];
    await run('mvn', args, home, 'Maven is needed to fetch the Kafka jars (or set KAFKA_BROKERS)');
    const jars = (await readdir(staging)).filter((name) => name.endsWith('.jar')).sort();
    if (!jars.some((name) => name.startsWith(`kafka_2.13-${version}`))) {
      throw new Error(`Maven copied no kafka_2.13-${version} jar into ${staging}`);
    }
    await writeFile(join(staging, COMPLETE), `${jars.join('\n')}\n`);
    try {
      await rename(staging, libs);
    } catch (error) {
      if (await isComplete(libs)) return libs; // another process won the race
      // An incomplete folder left by hand (fetches never write there): move it aside, retry.
      await rename(libs, `${staging}-stale`).catch(() => undefined);
      await rm(`${staging}-stale`, { recursive: true, force: true });
      await rename(staging, libs).catch(async () => {
        if (!(await isComplete(libs))) throw error;
      });
    }
    const mb = await folderMegabytes(libs);
    log(
      `[kafka] ${jars.length} jars (${mb} MB) in ${Math.round((Date.now() - started) / 100) / 10} s`,
    );
    return libs;
  } finally {
    clearInterval(heartbeat);
    await rm(staging, { recursive: true, force: true });
  }
}

/** Formats fresh storage and starts a broker, resolving once it answers a client. */
export async function startLocalKafka(opts: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const libs = await ensureKafkaJars(opts.log);
  const version = kafkaVersion();
  if (opts.sasl) checkSaslOptions(opts.sasl);
  const portsGiven = opts.port !== undefined || opts.controllerPort !== undefined;
  let lastError: unknown;
  // A free port can be taken between probing and binding: with chosen ports, try again.
  for (let attempt = 0; attempt < (portsGiven ? 1 : 3); attempt++) {
    const port = opts.port ?? (await freePort());
    let controllerPort = opts.controllerPort ?? (await freePort());
    while (controllerPort === port) controllerPort = await freePort();
    try {
      return await startOnce(libs, version, port, controllerPort, opts);
    } catch (error) {
      lastError = error;
      if (!/Address already in use|BindException/.test(String(error))) break;
    }
  }
  throw lastError;
}

/** Fails loudly unless the brokers answer a kafkajs admin client (listTopics). */
export async function checkKafka(
  brokers: string[],
  opts: { sasl?: SASLOptions; ssl?: { ca: Buffer[] }; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let lastError: unknown;
  do {
    try {
      await listTopics(brokers, opts.sasl, opts.ssl);
      return;
    } catch (error) {
      lastError = error;
      await sleep(250);
    }
  } while (Date.now() < deadline);
  throw new Error(`Kafka at ${brokers.join(',')} does not answer: ${messageOf(lastError)}`);
}

const COMPLETE = '.complete';

async function isComplete(libs: string): Promise<boolean> {
  const listed = await readFile(join(libs, COMPLETE), 'utf8').catch(() => undefined);
  if (!listed) return false;
  const present = new Set(await readdir(libs));
  const jars = listed.split('\n').filter(Boolean);
  return jars.length > 0 && jars.every((jar) => present.has(jar));
}

async function startOnce(
  libs: string,
  version: string,
  port: number,
  controllerPort: number,
  opts: LocalKafkaOptions,
): Promise<LocalKafka> {
  const dir = await mkdtemp(join(tmpdir(), 'truceline-kafka-'));
  const dataDir = join(dir, 'data');
  const config = join(dir, 'server.properties');
  const logDir = opts.logDir ? resolve(opts.logDir) : dir;
  await mkdir(logDir, { recursive: true });
  const logFile = join(logDir, `kafka-${port}.log`);
  const tls = opts.tls ? await generateCertificates(join(dir, 'tls')) : undefined;
  const properties = serverProperties(dataDir, port, controllerPort, opts, tls);
  await writeFile(config, `${properties.map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
  const jvmCommon = [
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(kafkaHome(), 'log4j2.xml')}`,
    `-Dtruceline.kafka.logFile=${logFile}`,
    '-cp',
    `${libs}/*`,
  ];

  let child: ChildProcess | undefined = undefined;
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopSync);
    if (child && isRunning(child)) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const terminate = async () => {
    if (!child || !isRunning(child)) return;
    child.kill('SIGTERM');
    if (!(await exited(child, 10_000))) {
      child.kill('SIGKILL');
      await exited(child, 5_000);
    }
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopSync);
    await terminate();
    await rm(dir, { recursive: true, force: true });
  };
  // A test run that dies without its teardown must not leave a JVM behind.
  process.on('exit', stopSync);

  const formatStarted = Date.now();
  try {
    const format = ['format', '-t', clusterId(), '-c', config];
    for (const user of opts.sasl?.users ?? []) {
      for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
        format.push('--add-scram', `${mechanism}=[name=${user.name},password=${user.password}]`);
      }
    }
    // A short-lived tool: the fastest JVM start matters more than its throughput.
    const toolJvm = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', ...jvmCommon];
    await run(
      'java',
      [...toolJvm, 'kafka.tools.StorageTool', ...format],
      dir,
      'Java 17+ is needed',
    );
  } catch (error) {
    stopSync();
    throw new Error(`formatting Kafka storage failed: ${messageOf(error)}`);
  }
  const formatMs = Date.now() - formatStarted;

  const started = Date.now();
  const heap = ['-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20'];
  child = spawn('java', [...heap, ...jvmCommon, 'kafka.Kafka', config], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError = error));

  const brokers = [`${HOST}:${port}`];
  const admin = opts.sasl ? superUserSasl(opts.sasl) : undefined;
  const clientTls = tls ? { ca: [await readFile(tls.caFile)] } : undefined;
  const patienceMs = opts.timeoutMs ?? 60_000;
  let waitingFor = `"${READY_LINE}" in the broker log`;
  try {
    let logged = '';
    let progressAt = started;
    while (!logged.includes(READY_LINE)) {
      if (spawnError) throw spawnError;
      if (!isRunning(child)) throw new Error(`the broker exited (${exitStatus(child)})`);
      if (Date.now() - progressAt > patienceMs) {
        throw new Error(`timed out: nothing new in its log for ${patienceMs} ms`);
      }
      await sleep(100);
      const now = await readFile(logFile, 'utf8').catch(() => '');
      if (now.length !== logged.length) progressAt = Date.now();
      logged = now;
    }
    waitingFor = 'an answer to a kafkajs admin listTopics';
    await checkKafka(brokers, { sasl: admin, ssl: clientTls, timeoutMs: patienceMs });
  } catch (error) {
    await terminate();
    const tail = await logTail(logFile);
    await stop();
    throw new Error(
      `Apache Kafka ${version} on ${brokers[0]} did not start (waiting for ${waitingFor}, ` +
        `${Date.now() - started} ms): ${messageOf(error)}\n` +
        `--- broker log (${logFile}) ---\n${tail}` +
        (output.trim() ? `\n--- broker console ---\n${output.trim()}` : ''),
    );
  }
  return {
    brokers,
    version,
    sasl: admin,
    tls: tls ? { caFile: tls.caFile } : undefined,
    dataDir,
    logFile,
    pid: child.pid as number,
    timings: { formatMs, startMs: Date.now() - started },
    stop,
    stopSync,
  };
}

function serverProperties(
  dataDir: string,
  port: number,
  controllerPort: number,
  opts: LocalKafkaOptions,
  tls?: Certificates,
): [string, string][] {
  const listener = `${opts.sasl ? 'SASL_' : ''}${tls ? 'SSL' : 'PLAINTEXT'}`;
  const entries: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@${HOST}:${controllerPort}`,
    listeners: `${listener}://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    'advertised.listeners': `${listener}://${HOST}:${port}`,
    'inter.broker.listener.name': listener,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': `CONTROLLER:PLAINTEXT,${listener}:${listener}`,
    'log.dirs': dataDir,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'auto.create.topics.enable': true,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    // The default cleaner buffer takes 128 MiB of a small heap.
    'log.cleaner.dedupe.buffer.size': 2_097_152,
    // Every new partition's segment preallocates its offset and time indexes at this size as
    // sparse files the broker maps into memory; its first index write faults, and the kernel's
    // readahead (8 MiB on this machine's disk) fills the holes with zeroes in the page cache:
    // 20 MiB written per partition created, 480 MiB for a bench round's two topics of 12
    // partitions. 1 MiB still indexes 512 MiB of log per segment.
    'log.index.size.max.bytes': 1_048_576,
    'num.network.threads': 2,
    'num.io.threads': 4,
  };
  if (opts.sasl) {
    const { users, superUser } = opts.sasl;
    const admin = users.find((user) => user.name === superUser) as SaslUser;
    const scram =
      'org.apache.kafka.common.security.scram.ScramLoginModule required ' +
      `username="${admin.name}" password="${admin.password}";`;
    // PLAIN checks passwords against the JAAS line's user_<name> entries.
    const plain =
      'org.apache.kafka.common.security.plain.PlainLoginModule required ' +
      `username="${admin.name}" password="${admin.password}" ` +
      users.map((user) => `user_${user.name}="${user.password}"`).join(' ') +
      ';';
    const name = listener.toLowerCase();
    Object.assign(entries, {
      'sasl.enabled.mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
      'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-256',
      [`listener.name.${name}.scram-sha-256.sasl.jaas.config`]: scram,
      [`listener.name.${name}.scram-sha-512.sasl.jaas.config`]: scram,
      [`listener.name.${name}.plain.sasl.jaas.config`]: plain,
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'allow.everyone.if.no.acl.found': false,
      // The broker reaches its controller over the loopback CONTROLLER listener, unauthenticated.
      'super.users': `User:${admin.name};User:ANONYMOUS`,
    });
  }
  if (tls) {
    Object.assign(entries, {
      // PEM files: the broker's key (PKCS#8, unencrypted) and certificate chain in one file,
      // and the CA it trusts for its own inter-broker connections.
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': tls.keystoreFile,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': tls.caFile,
      'ssl.endpoint.identification.algorithm': 'https',
    });
  }
  Object.assign(entries, opts.properties ?? {});
  return Object.entries(entries).map(([key, value]) => [key, String(value)]);
}

interface Certificates {
  caFile: string;
  /** The broker's private key followed by its certificate, PEM. */
  keystoreFile: string;
}

/**
 * A CA and a broker certificate for 127.0.0.1 (and localhost), valid for two days, made with
 * openssl in `dir`. EC P-256 keys: generated in milliseconds, accepted by Kafka and Node.
 */
async function generateCertificates(dir: string): Promise<Certificates> {
  await mkdir(dir, { recursive: true });
  const hint = 'openssl is needed to generate the test certificates (apt-get install openssl)';
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run(
    'openssl',
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2']
      .concat(['-subj', '/CN=Truceline test CA', '-addext', 'basicConstraints=critical,CA:TRUE'])
      .concat(['-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    dir,
    hint,
  );
  await run(
    'openssl',
    ['req', ...ec, '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=127.0.0.1'],
    dir,
    hint,
  );
  await writeFile(
    join(dir, 'broker.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  await run(
    'openssl',
    ['x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key'].concat([
      '-CAcreateserial',
      '-out',
      'broker.pem',
      '-days',
      '2',
      '-extfile',
      'broker.ext',
    ]),
    dir,
    hint,
  );
  // Kafka reads a PEM key store as the PKCS#8 key then the chain, in one file.
  const key = await readFile(join(dir, 'broker.key'), 'utf8');
  if (!key.includes('BEGIN PRIVATE KEY')) throw new Error('openssl wrote no PKCS#8 key');
  const chain = [
    await readFile(join(dir, 'broker.pem'), 'utf8'),
    await readFile(join(dir, 'ca.pem'), 'utf8'),
  ];
  const keystoreFile = join(dir, 'broker-keystore.pem');
  await writeFile(keystoreFile, `${key.trim()}\n${chain.map((c) => c.trim()).join('\n')}\n`);
  return { caFile: join(dir, 'ca.pem'), keystoreFile };
}

function checkSaslOptions(sasl: NonNullable<LocalKafkaOptions['sasl']>): void {
  if (!sasl.users.some((user) => user.name === sasl.superUser)) {
    throw new Error(`sasl.superUser ${sasl.superUser} is not among sasl.users`);
  }
  for (const { name, password } of sasl.users) {
    // They go into StorageTool's [name=…,password=…] and a JAAS line: keep them plain.
    if (!/^[\w.@-]+$/.test(name) || !/^[\w.@!#%*+/:?^~-]+$/.test(password)) {
      throw new Error(
        `SASL user ${JSON.stringify(name)}: name or password has unsupported characters`,
      );
    }
  }
}

function superUserSasl(sasl: NonNullable<LocalKafkaOptions['sasl']>): SASLOptions {
  const admin = sasl.users.find((user) => user.name === sasl.superUser) as SaslUser;
  return { mechanism: 'scram-sha-256', username: admin.name, password: admin.password };
}

/** A KRaft cluster id: 16 random bytes, base64url; StorageTool would read a leading '-' as an option. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function listTopics(
  brokers: string[],
  sasl?: SASLOptions,
  ssl?: { ca: Buffer[] },
): Promise<string[]> {
  const kafka = new Kafka({
    clientId: 'truceline-local-kafka',
    brokers,
    sasl,
    ssl,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await admin.listTopics();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function run(command: string, args: string[], cwd: string, hint: string): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-6000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => fail(new Error(`${command}: ${error.message} (${hint})`)));
    child.on('close', (code) =>
      code === 0
        ? done()
        : fail(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${output.trim()}`)),
    );
  });
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exitStatus(child: ChildProcess): string {
  return child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (!isRunning(child)) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

async function logTail(file: string, lines = 40): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '(no log written)');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function folderMegabytes(dir: string): Promise<number> {
  const names = await readdir(dir);
  const sizes = await Promise.all(names.map(async (name) => (await stat(join(dir, name))).size));
  return Math.round(sizes.reduce((sum, size) => sum + size, 0) / 1_048_576);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

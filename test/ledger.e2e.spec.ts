import {
  generateSigningKey,
  leafHashOf,
  openNote,
  parseCheckpoint,
  parseSigningKey,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
} from '@truceline/ledger';
import { createTestDatabase, TestDatabase } from '@truceline/testing';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../apps/cli/src/cli';
import { SseClient } from '../apps/api/src/feeds/testing/sse-client';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';
import {
  AUDITOR,
  expectStatus,
  freshSector,
  Json,
  LoggedEvent,
  ministryOf,
  OPERATOR,
  TrucelineApi,
  verifierOf,
} from './support/truceline-api';

/**
 * The tamper-evident log through the real system (SPEC §6, §9, §10): the checkpoint,
 * consistency and proof routes, `truceline verify` and `export`, the standalone verifier a
 * partner runs, and the same checkpoint and proofs checked by the Go reference
 * implementations (golang.org/x/mod/sumdb/note, github.com/transparency-dev/merkle).
 */
jest.setTimeout(120_000);

const run = promisify(execFile);
const b64 = (s: string) => Buffer.from(s, 'base64');

interface Checkpoint {
  checkpoint: string;
  treeSize: number;
  rootHash: string;
  verifierKey: string;
}
interface EventProof {
  event: LoggedEvent;
  leafIndex: number;
  leafHash: string;
  inclusionProof: string[];
}
interface IncidentProof {
  incidentId: string;
  checkpoint: Checkpoint;
  events: EventProof[];
}

describe('the tamper-evident log', () => {
  const signingKey = generateSigningKey('truceline/e2e');
  const vkey = parseSigningKey(signingKey).verifierKey;
  let database: TestDatabase;
  let system: InProcessSystem;
  let api: TrucelineApi;
  let work: string;
  let incident: string;
  let first: Checkpoint;

  const cli = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const env = { DATABASE_URL: database.url, TRUCELINE_SIGNING_KEY: signingKey };
    const code = await runCli(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  const proveAll = (proof: IncidentProof) => {
    const root = b64(proof.checkpoint.rootHash);
    for (const { event, leafIndex, leafHash, inclusionProof } of proof.events) {
      expect(b64(leafHash)).toEqual(leafHashOf(event));
      verifyInclusion(
        leafIndex,
        proof.checkpoint.treeSize,
        leafHashOf(event),
        inclusionProof.map(b64),
        root,
      );
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    work = mkdtempSync(join(tmpdir(), 'truceline-ledger-'));
    system = await startInProcessSystem({
      databaseUrl: database.url,
      env: { TRUCELINE_SIGNING_KEY: signingKey },
    });
    api = new TrucelineApi(system.baseUrl, system.jwtSecret);
    incident = await api.report(freshSector('L'));
    await system.runtime.settle();
    first = expectStatus(await api.get<Checkpoint>('/v1/log/checkpoint', ministryOf('PL')), 200);
    await api.command(
      `/v1/incidents/${incident}/findings`,
      { finding: 'confirmed', verifier: 'US', evidence: ['e-1'] },
      verifierOf('US'),
    );
    await system.runtime.settle();
  });
  afterAll(async () => {
    await system?.close();
    await database?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('serves the latest checkpoint as a C2SP signed note under the pinned key, to anyone', async () => {
    const latest = expectStatus(
      await api.get<Checkpoint>('/v1/log/checkpoint', verifierOf('FR')),
      200,
    );

    expect(latest.verifierKey).toBe(vkey);
    const text = openNote(latest.checkpoint, parseVerifierKey(vkey));
    expect(parseCheckpoint(text)).toEqual({
      origin: 'truceline/e2e',
      treeSize: latest.treeSize,
      rootHash: b64(latest.rootHash),
    });
    expect(latest.treeSize).toBeGreaterThan(first.treeSize);
    expect((await api.call('GET', '/v1/log/checkpoint', { as: null })).status).toBe(401);
  });

  it('proves every event of an incident to an auditor, and against an older checkpoint', async () => {
    const events = await api.events(incident);

    const proof = expectStatus(
      await api.get<IncidentProof>(`/v1/incidents/${incident}/proof`, AUDITOR),
      200,
    );
    const older = expectStatus(
      await api.get<IncidentProof>(`/v1/incidents/${incident}/proof?treeSize=${first.treeSize}`),
      200,
    );

    expect(proof.events.map((p) => p.event)).toEqual(events);
    proveAll(proof);
    expect(older.checkpoint).toEqual(first);
    expect(older.events.length).toBeGreaterThan(0);
    expect(older.events.length).toBeLessThan(events.length);
    proveAll(older);
  });

  it('gives a ministry what its feed releases, unredacted only; 404 when unknown', async () => {
    const proof = expectStatus(
      await api.get<IncidentProof>(`/v1/incidents/${incident}/proof`, ministryOf('PL')),
      200,
    );

    const types = proof.events.map((p) => p.event.type);
    expect(types).not.toContain('BreachReported'); // released redacted: its source stays hidden
    expect(types).not.toContain('VerificationFindingSubmitted'); // PL verifies nothing here
    expect(JSON.stringify(proof)).not.toContain('sensor-0412');
    proveAll(proof);
    const unknown = await api.get(`/v1/incidents/${randomUUID()}/proof`, ministryOf('PL'));
    expect(unknown.status).toBe(404);
    expect((await api.get(`/v1/incidents/${randomUUID()}/proof`, AUDITOR)).status).toBe(404);
    expect((await api.get(`/v1/incidents/${incident}/proof`, verifierOf('US'))).status).toBe(403);
  });

  it('refuses tree sizes that no checkpoint has and malformed parameters', async () => {
    const bad = [
      `/v1/incidents/${incident}/proof?treeSize=${first.treeSize + 1000}`,
      `/v1/incidents/${incident}/proof?treeSize=0`,
      `/v1/incidents/${incident}/proof?treeSize=abc`,
      '/v1/log/consistency?from=1',
      '/v1/log/consistency?from=3&to=2',
      '/v1/log/consistency?from=1&to=100000',
      '/v1/log/consistency?from=-1&to=2',
    ];
    for (const path of bad) {
      const response = await api.get(path, OPERATOR);
      expect({ path, status: response.status }).toEqual({ path, status: 400 });
    }
  });

  it('proves each checkpoint consistent with the one a partner held before', async () => {
    const latest = expectStatus(
      await api.get<Checkpoint>('/v1/log/checkpoint', ministryOf('GB')),
      200,
    );

    const { proof } = expectStatus(
      await api.get<{ proof: string[] }>(
        `/v1/log/consistency?from=${first.treeSize}&to=${latest.treeSize}`,
        ministryOf('GB'),
      ),
      200,
    );

    verifyConsistency(
      first.treeSize,
      latest.treeSize,
      b64(first.rootHash),
      b64(latest.rootHash),
      proof.map(b64),
    );
  });

  it('documents the three routes exactly in OpenAPI', async () => {
    const { paths } = expectStatus(
      await api.call<{ paths: Record<string, { get: Json }> }>('GET', '/docs-json', { as: null }),
      200,
    );
    const responses = (path: string) => Object.keys(paths[path].get.responses as Json).sort();
    const parameters = (path: string) =>
      (paths[path].get.parameters as { name: string; required: boolean; schema: Json }[]).map(
        (p) => [p.name, p.required, p.schema.minimum],
      );

    expect(responses('/v1/log/checkpoint')).toEqual(['200', '400', '401', '503']);
    expect(responses('/v1/log/consistency')).toEqual(['200', '400', '401', '503']);
    expect(responses('/v1/incidents/{id}/proof')).toEqual([
      '200',
      '400',
      '401',
      '403',
      '404',
      '503',
    ]);
    expect(parameters('/v1/log/consistency')).toEqual([
      ['from', true, 1],
      ['to', true, 1],
    ]);
    expect(parameters('/v1/incidents/{id}/proof')).toEqual(
      expect.arrayContaining([['treeSize', false, 1]]),
    );
  });

  it('verify: the whole log holds, summarised, exit 0', async () => {
    await system.runtime.ledger.latest();

    const result = await cli(['verify', '--key', vkey]);

    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toMatch(
      /^\d+ events \(\d+ sealed, 0 not sealed yet\), \d+ checkpoints of truceline\/e2e, checked in \d+ ms\nOK: /,
    );
    const wrongKey = parseSigningKey(generateSigningKey('truceline/e2e')).verifierKey;
    const forged = await cli(['verify', '--key', wrongKey]);
    expect(forged.code).toBe(1);
    expect(forged.err).toMatch(/no signature by truceline\/e2e|does not verify/);
  });

  it('export: the offline verifier passes it, and names what a tampering broke', async () => {
    const file = join(work, 'export.json');
    const exported = await cli(['export', incident, '--out', file]);
    expect(exported).toMatchObject({ code: 0 });
    const verifier = resolve(__dirname, '../tools/verify-export.mjs');
    const check = (path: string, key = vkey) =>
      run(process.execPath, [verifier, path, '--key', key]).then(
        ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );

    const good = await check(file);

    expect(good).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK: \d+ events/) });
    const document = JSON.parse(readFileSync(file, 'utf8')) as {
      checkpoint: Checkpoint;
      events: EventProof[];
    };
    const tamper = async (label: string, change: (d: typeof document) => void) => {
      const copy = JSON.parse(JSON.stringify(document)) as typeof document;
      change(copy);
      const path = join(work, `${label}.json`);
      writeFileSync(path, JSON.stringify(copy));
      return check(path);
    };
    const summary = await tamper(
      'data',
      (d) => ((d.events[0].event.data as Json).summary = 'Nothing happened'),
    );
    expect(summary).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        /FAILED: event .* at position \d+: its content does not match its leaf hash/,
      ),
    });
    const proofHash = await tamper('proof', (d) => {
      const last = d.events[d.events.length - 1];
      // The leaf hash gone, the verifier hashes the event itself: a changed one no longer leads
      // to the root.
      Reflect.deleteProperty(last, 'leafHash');
      last.event.metadata.policyVersion = 2;
    });
    expect(proofHash).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/inclusion proof does not lead to the checkpoint's root/),
    });
    const note = await tamper(
      'note',
      (d) => (d.checkpoint.checkpoint = d.checkpoint.checkpoint.replace(/\n\d+\n/, '\n99\n')),
    );
    expect(note).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/signature by truceline\/e2e does not verify/),
    });
    const otherKey = await check(
      file,
      parseSigningKey(generateSigningKey('truceline/e2e')).verifierKey,
    );
    expect(otherKey).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no signature by truceline\/e2e/),
    });
    expect((await check(join(work, 'missing.json'))).code).toBe(1);
    expect(await cli(['export', randomUUID(), '--out', join(work, 'x.json')])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/incident .* not found/),
    });

    // The same checkpoint and proofs through the Go reference implementations.
    const input = join(work, 'interop.json');
    writeFileSync(
      input,
      JSON.stringify({
        verifierKey: vkey,
        checkpoint: document.checkpoint.checkpoint,
        proofs: document.events,
      }),
    );
    const interop = resolve(__dirname, 'interop');
    const { stdout } = await run('go', ['run', '.', input], { cwd: interop, timeout: 90_000 });
    expect(stdout).toMatch(/^OK: truceline\/e2e, tree size \d+, \d+ inclusion proofs/);
    writeFileSync(
      input,
      JSON.stringify({
        verifierKey: vkey,
        checkpoint: document.checkpoint.checkpoint.replace('truceline/e2e\n', 'truceline/e3e\n'),
        proofs: [],
      }),
    );
    await expect(run('go', ['run', '.', input], { cwd: interop })).rejects.toMatchObject({
      code: 1,
    });
  });

  it("publishes every checkpoint, the CLI's too, to every partner's feed over HTTP and SSE", async () => {
    // The API's sealer paused, so the checkpoint covering this event is the one export signs
    // (and no other is signed behind the test's back).
    await system.runtime.ledger.sealer.stop();
    const another = await api.report(freshSector('L'));
    await system.runtime.settle();
    const file = join(work, 'export-signs.json');
    expect(await cli(['export', another, '--out', file])).toMatchObject({ code: 0 });
    const signedByCli = (JSON.parse(readFileSync(file, 'utf8')) as { checkpoint: Checkpoint })
      .checkpoint;
    const last = expectStatus(await api.get<Checkpoint>('/v1/log/checkpoint'), 200);
    const { rows } = await system.runtime.sql.query<{ note: string; tree_size: string }>(
      'SELECT note, tree_size FROM ledger_checkpoints ORDER BY tree_size',
    );
    expect(rows.map((r) => r.note)).toEqual(
      expect.arrayContaining([first.checkpoint, signedByCli.checkpoint, last.checkpoint]),
    );
    type Entry = {
      seq: number;
      id: string;
      type: string;
      incidentId: string | null;
      position: number;
      exercise: boolean;
      data: Checkpoint & { origin: string };
    };
    const feedOf = async (partner: string) =>
      expectStatus(
        await api.get<{ entries: Entry[] }>('/v1/feed?limit=500', ministryOf(partner)),
        200,
      ).entries;

    const pl = await feedOf('PL');
    for (const partner of ['PL', 'GB', 'UA']) {
      const notices = (partner === 'PL' ? pl : await feedOf(partner)).filter(
        (e) => e.type === 'LogCheckpoint',
      );
      expect(notices.map((n) => n.data.checkpoint)).toEqual(rows.map((r) => r.note));
      for (const notice of notices) {
        const body = parseCheckpoint(openNote(notice.data.checkpoint, parseVerifierKey(vkey)));
        expect(notice).toMatchObject({
          incidentId: null,
          // The system runs in exercise mode: the API's and the CLI's checkpoints are drill data.
          exercise: true,
          data: {
            origin: 'truceline/e2e',
            treeSize: body.treeSize,
            rootHash: body.rootHash.toString('base64'),
          },
        });
      }
    }
    // In order with the other entries: after the report the first checkpoint covered.
    const report = pl.find((e) => e.type === 'BreachReported' && e.incidentId === incident)!;
    const firstNotice = pl.find((e) => e.data.checkpoint === first.checkpoint)!;
    expect(firstNotice.seq).toBeGreaterThan(report.seq);
    expect(firstNotice.position).toBeGreaterThanOrEqual(report.position);

    const stream = await SseClient.open(new URL('/v1/feed/stream?after=0', api.baseUrl), {
      authorization: `Bearer ${api.token(ministryOf('PL'))}`,
    });
    try {
      await stream.until((c) => c.events.length >= pl.length, 'the PL feed over SSE');
      expect(
        stream.events.slice(0, pl.length).map((e) => [Number(e.id), e.event, JSON.parse(e.data)]),
      ).toEqual(pl.map((e) => [e.seq, e.type, e]));
    } finally {
      stream.close();
      system.runtime.ledger.sealer.start();
    }
  });
});

import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage } from 'node:http';
import { AddressInfo } from 'node:net';
import { Pool } from 'pg';

/**
 * The HTTP baseline, run as its own process as the API is (in the bench's process it would
 * share one event loop with autocannon and lose half its CPU to the load generator): a bare
 * Node server doing one INSERT (POST) or one SELECT (GET) per request on BENCH_DATABASE_URL,
 * through a pool of the API's default size. Prints its port once listening.
 */
const pool = new Pool({ connectionString: process.env.BENCH_DATABASE_URL, max: 10 });

const bodyOf = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

async function main(): Promise<void> {
  await pool.query(
    'CREATE TABLE IF NOT EXISTS bare_incidents (id uuid PRIMARY KEY, report jsonb NOT NULL)',
  );
  const server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    (async () => {
      if (req.method === 'POST') {
        const id = randomUUID();
        const body = JSON.parse(await bodyOf(req)) as unknown;
        await pool.query('INSERT INTO bare_incidents (id, report) VALUES ($1, $2)', [id, body]);
        return answer(201, { incidentId: id });
      }
      const id = (req.url ?? '').split('/').pop();
      const { rows } = await pool.query('SELECT id, report FROM bare_incidents WHERE id = $1', [
        id,
      ]);
      return rows.length > 0 ? answer(200, rows[0]) : answer(404, {});
    })().catch((error: unknown) => answer(500, { error: String(error) }));
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
  });
  process.on('SIGTERM', () => {
    server.close();
    void pool.end().then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

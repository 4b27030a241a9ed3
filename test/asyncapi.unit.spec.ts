import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Parser } from '@asyncapi/parser';
import { INCIDENT_EVENT_TYPES, POLICY_ADOPTED } from '@truceline/domain';

/** The AsyncAPI document is the published contract of the Kafka feeds: it must parse and cover every event. */
describe('AsyncAPI document', () => {
  const file = path.resolve(__dirname, '../docs/asyncapi.yaml');

  it('is a valid AsyncAPI 3 document without errors or warnings', async () => {
    const sut = new Parser();
    const { document, diagnostics } = await sut.parse(readFileSync(file, 'utf8'));
    const problems = diagnostics
      .filter((d) => d.severity <= 1)
      .map((d) => `${d.path.join('.')}: ${d.message}`);
    expect(problems).toEqual([]);
    expect(document).toBeDefined();
    expect(document?.version()).toMatch(/^3\./);
  });

  it('describes every event type on truceline.events.v1', async () => {
    const { document } = await new Parser().parse(readFileSync(file, 'utf8'));
    const channel = document
      ?.channels()
      .all()
      .find((c) => c.address() === 'truceline.events.v1');
    const names =
      channel
        ?.messages()
        .all()
        .map((m) => m.id()) ?? [];
    expect([...names].sort()).toEqual([...INCIDENT_EVENT_TYPES, POLICY_ADOPTED].sort());
  });
});

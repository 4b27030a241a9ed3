import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPENAPI_FILE, serializeOpenApi } from '../apps/api/src/openapi-document';
import { InProcessSystem, startInProcessSystem } from './support/in-process-system';

/**
 * docs/openapi.json is the served document, committed so that partners and reviewers read
 * the contract without running the API. Any change to a route, DTO or decorator changes the
 * served document, and this test fails until the committed copy is regenerated.
 */
describe('the committed OpenAPI document', () => {
  let system: InProcessSystem;
  beforeAll(async () => {
    system = await startInProcessSystem();
  }, 60_000);
  afterAll(() => system?.close());

  it('is the document the API serves', async () => {
    const served = serializeOpenApi(await (await fetch(`${system.baseUrl}/docs-json`)).json());
    const committed = readFileSync(join(__dirname, '..', OPENAPI_FILE), 'utf8');

    if (served !== committed) {
      throw new Error(
        `${OPENAPI_FILE} differs from the served document; regenerate it with: npm run openapi`,
      );
    }
  });

  it('describes the webhook payload partners receive', () => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', OPENAPI_FILE), 'utf8')) as {
      components: { schemas: Record<string, { required?: string[] }> };
      'x-webhooks': Record<string, unknown>;
    };

    expect(committed.components.schemas.WebhookNotice.required).toEqual(
      expect.arrayContaining(['deliveryId', 'incidentId', 'subject', 'occurredAt', 'exercise']),
    );
    expect(Object.keys(committed['x-webhooks'])).toEqual(['partnerNotice']);
  });
});

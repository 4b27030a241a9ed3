import { POLICY_V1, ValidationError } from '@truceline/domain';
import { parsePolicyDocument } from './policy-document';

const { version: _version, ...V1_DOCUMENT } = POLICY_V1;

/** The field errors of a refused document. */
function problemsOf(document: unknown): { field: string; message: string }[] {
  try {
    parsePolicyDocument(document);
  } catch (error) {
    if (error instanceof ValidationError) return error.fields;
    throw error;
  }
  throw new Error('the document was accepted');
}

describe(parsePolicyDocument.name, () => {
  it('accepts the v1 document and returns it without anything else', () => {
    expect(parsePolicyDocument(structuredClone(V1_DOCUMENT))).toEqual(V1_DOCUMENT);
  });

  it('accepts fractional windows and EU as a partner', () => {
    const document = {
      ...structuredClone(V1_DOCUMENT),
      verificationWindowHours: 1.5,
      verifierRoster: ['UA', 'EU'],
    };
    expect(parsePolicyDocument(document)).toMatchObject({
      verificationWindowHours: 1.5,
      verifierRoster: ['UA', 'EU'],
    });
  });

  it('names each bad field at once', () => {
    const problems = problemsOf({
      ...structuredClone(V1_DOCUMENT),
      verificationWindowHours: 0,
      warningWindowHours: -3,
      coalitionAckWindowHours: '12',
      verificationQuorum: 5,
      verifierRoster: ['UA', 'UK', 'gb'],
      coalitionRoster: [
        { member: 'GB', capabilities: ['land', 'space'] },
        { member: 'XX', capabilities: ['air'] },
        { member: 'PL', capabilities: [] },
      ],
      westernForceRoster: [
        { member: 'US', capabilities: ['air'] },
        { member: 'US', capabilities: ['logistics'] },
      ],
      repeatedViolation: { confirmedBreaches: 0, windowHours: 168 },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        {
          field: 'verificationWindowHours',
          message: 'verificationWindowHours must be greater than 0',
        },
        { field: 'warningWindowHours', message: 'warningWindowHours must be greater than 0' },
        {
          field: 'coalitionAckWindowHours',
          message: 'coalitionAckWindowHours must be a number of hours',
        },
        {
          field: 'verifierRoster',
          message: expect.stringContaining('unknown partner codes (UK, gb)'),
        },
        { field: 'coalitionRoster.0.capabilities', message: expect.stringContaining('one of') },
        { field: 'coalitionRoster.1.member', message: expect.stringContaining('ISO 3166-1') },
        {
          field: 'coalitionRoster.2.capabilities',
          message: 'capabilities must name at least one capability',
        },
        {
          field: 'westernForceRoster',
          message: 'westernForceRoster lists a member more than once',
        },
        {
          field: 'repeatedViolation.confirmedBreaches',
          message: 'confirmedBreaches must be at least 1',
        },
      ]),
    );
    // The quorum is judged against the roster given: 5 of 3 listed verifiers cannot be reached.
    expect(problems).toContainEqual({
      field: 'verificationQuorum',
      message: 'verificationQuorum must be at most the size of verifierRoster (3)',
    });
  });

  it('refuses a version (the server assigns it) and any other unknown field', () => {
    const problems = problemsOf({ ...structuredClone(V1_DOCUMENT), version: 7, extra: true });
    expect(problems.map((p) => p.field).sort()).toEqual(['extra', 'version']);
  });

  it('refuses missing fields and a document that is not an object', () => {
    expect(problemsOf({}).map((p) => p.field)).toEqual(
      expect.arrayContaining([
        'verificationWindowHours',
        'verificationQuorum',
        'repeatedViolation',
        'verifierRoster',
        'coalitionRoster',
        'westernForceRoster',
      ]),
    );
    expect(problemsOf([V1_DOCUMENT])).toEqual([
      { field: 'body', message: 'must be a JSON object' },
    ]);
  });
});

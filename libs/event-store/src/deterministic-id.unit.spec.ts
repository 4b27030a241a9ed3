import { deterministicId, TRUCELINE_NAMESPACE, uuidV5 } from './deterministic-id';

const DNS_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

describe(uuidV5.name, () => {
  it('matches the published v5 vector for python.org in the DNS namespace', () => {
    expect(uuidV5('python.org', DNS_NAMESPACE)).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('matches a second vector, computed independently, in the URL namespace', () => {
    expect(uuidV5('https://truceline.example/', URL_NAMESPACE)).toBe(
      '2d5ce70d-7596-5473-8133-f7db1f69cf0e',
    );
  });

  it('rejects a namespace that is not a UUID', () => {
    expect(() => uuidV5('x', 'not-a-uuid')).toThrow(/namespace/);
  });
});

describe(deterministicId.name, () => {
  it('is stable and a version 5, RFC-variant UUID', () => {
    const sut = deterministicId('IncidentTierChanged', 'c0ffee00-0000-4000-8000-000000000001', '2');
    expect(sut).toBe(
      deterministicId('IncidentTierChanged', 'c0ffee00-0000-4000-8000-000000000001', '2'),
    );
    expect(sut).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('hashes the parts as a JSON array under the Truceline namespace', () => {
    expect(deterministicId('a', 'b')).toBe(uuidV5('["a","b"]', TRUCELINE_NAMESPACE));
  });

  it('keeps parts apart: moving a separator between parts changes the id', () => {
    expect(deterministicId('a/b', 'c')).not.toBe(deterministicId('a', 'b/c'));
    expect(deterministicId('ab')).not.toBe(deterministicId('a', 'b'));
  });

  it('needs at least one part', () => {
    expect(() => deterministicId()).toThrow(/at least one part/);
  });
});

import { createTable } from './table';

describe(createTable.name, () => {
  it('renders the columns in declared order, then the table constraints', () => {
    expect(
      createTable({
        name: 'feed',
        columns: { partner: 'text NOT NULL', seq: 'bigint NOT NULL' },
        constraints: ['PRIMARY KEY (partner, seq)'],
      }),
    ).toBe(
      'CREATE TABLE IF NOT EXISTS feed (\n  partner text NOT NULL,\n  seq bigint NOT NULL,\n  PRIMARY KEY (partner, seq)\n)',
    );
  });

  it('needs no constraints', () => {
    expect(createTable({ name: 't', columns: { id: 'text PRIMARY KEY' } })).toBe(
      'CREATE TABLE IF NOT EXISTS t (\n  id text PRIMARY KEY\n)',
    );
  });
});

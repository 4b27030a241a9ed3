import { ArgumentMetadata } from '@nestjs/common';
import { ValidationError } from '@truceline/domain';
import { IsInt, IsString, MaxLength } from 'class-validator';
import { SubmitFindingDto } from '../incidents/verification.http.controller';
import { ActivateWesternResponseDto } from '../incidents/measures.http.controller';
import { RecordDecisionDto } from '../incidents/decisions.http.controller';
import { ReportBreachDto } from '../incidents/report-breach.http.controller';
import { toProblem } from './problem-details.filter';
import { createValidationPipe } from './validation';

const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({
  type: 'body',
  metatype,
});

const validReport = () => ({
  location: { sector: 'S-7', frontlineKm: 512.5 },
  category: 'artillery',
  severity: 'major',
  source: { kind: 'sensor', id: 'sensor-0412' },
  summary: 'Shelling near the line of contact',
});

describe(createValidationPipe.name, () => {
  const sut = createValidationPipe();

  const fieldErrorsOf = async (value: unknown, metadata: ArgumentMetadata) => {
    const error = await sut.transform(value, metadata).then(
      () => null,
      (e: unknown) => e,
    );
    if (!(error instanceof ValidationError)) throw new Error(`expected a ValidationError`);
    return error.fields;
  };

  it('reports the three-fields example: nested range, missing object, unknown field', async () => {
    const { source: _source, ...report } = validReport();
    const value = { ...report, location: { sector: 'S-7', frontlineKm: 5000 }, foo: 1 };

    const error = await sut.transform(value, body(ReportBreachDto)).catch((e: unknown) => e);

    expect(toProblem(error)).toEqual({
      type: 'urn:truceline:problem:validation',
      title: 'Invalid request',
      status: 400,
      code: 'validation',
      detail: 'invalid request: foo, location.frontlineKm, source',
      errors: [
        { field: 'foo', message: 'property foo should not exist' },
        { field: 'location.frontlineKm', message: 'frontlineKm must not be greater than 1400' },
        { field: 'source', message: 'source is required' },
      ],
    });
  });

  it('reports unknown fields inside nested objects by their path', async () => {
    const value = { ...validReport(), source: { kind: 'sensor', id: 's-1', secret: true } };

    expect(await fieldErrorsOf(value, body(ReportBreachDto))).toEqual([
      { field: 'source.secret', message: 'property secret should not exist' },
    ]);
  });

  it('gives one message per field, the most basic first', async () => {
    const value = { ...validReport(), summary: 42, category: 'rumour', severity: null };

    expect(await fieldErrorsOf(value, body(ReportBreachDto))).toEqual([
      { field: 'category', message: expect.stringMatching(/^category must be one of: artillery/) },
      { field: 'severity', message: 'severity is required' },
      { field: 'summary', message: 'summary must be a string' },
    ]);
  });

  it.each([
    ['2025-06-01', 'a date without time'],
    ['2025-06-01T08:00:00', 'no offset'],
    ['2025-02-30T08:00:00Z', 'no such day'],
  ])('refuses occurredAt %s (%s)', async (occurredAt) => {
    expect(await fieldErrorsOf({ ...validReport(), occurredAt }, body(ReportBreachDto))).toEqual([
      { field: 'occurredAt', message: expect.stringContaining('ISO 8601 instant with an offset') },
    ]);
  });

  it('returns a DTO instance of the valid body', async () => {
    const value = { ...validReport(), occurredAt: '2025-06-01T08:00:00+02:00' };

    const result = await sut.transform(value, body(ReportBreachDto));

    expect(result).toBeInstanceOf(ReportBreachDto);
    expect(result).toMatchObject(value);
  });

  it('requires the evidence list of a finding, which may be empty, and a partner code', async () => {
    const ok = { verifier: 'GB', finding: 'confirmed', evidence: [] };

    await expect(sut.transform(ok, body(SubmitFindingDto))).resolves.toMatchObject(ok);
    expect(
      await fieldErrorsOf({ verifier: 'gbr', finding: 'confirmed' }, body(SubmitFindingDto)),
    ).toEqual([
      { field: 'verifier', message: expect.stringContaining('partner code') },
      { field: 'evidence', message: 'evidence is required' },
    ]);
  });

  it('requires a US element in a Western response, after the list itself is valid', async () => {
    const fields = (elements: unknown) =>
      fieldErrorsOf({ elements, reference: 'o-1' }, body(ActivateWesternResponseDto));

    expect(await fields([])).toEqual([
      { field: 'elements', message: 'elements must contain at least 1 elements' },
    ]);
    expect(await fields(['GB air', 'AUS navy'])).toEqual([
      { field: 'elements', message: expect.stringContaining('at least one US element') },
    ]);
    await expect(
      sut.transform(
        { elements: ['GB air', 'US ISR'], reference: 'o-1' },
        body(ActivateWesternResponseDto),
      ),
    ).resolves.toBeDefined();
  });

  it('checks every partner code a decision is releasable to', async () => {
    const value = {
      authority: 'NSC',
      decision: 'other',
      rationale: 'r',
      releasableTo: ['GB', 'x'],
    };

    expect(await fieldErrorsOf(value, body(RecordDecisionDto))).toEqual([
      { field: 'releasableTo', message: expect.stringContaining('partner code') },
    ]);
  });

  it('applies a rule added to a class after the class was validated (rules kept per class)', async () => {
    class Late {
      @IsString()
      name!: string;
    }
    class LateChild extends Late {}
    await expect(sut.transform({ name: 'a' }, body(LateChild))).resolves.toBeDefined();

    // As a decorator does when a class is defined: a rule on the parent, and one of its own.
    IsInt()(Late.prototype, 'count');
    MaxLength(3)(LateChild.prototype, 'name');

    expect(await fieldErrorsOf({ name: 'abcd', count: 'x' }, body(LateChild))).toEqual([
      { field: 'name', message: expect.stringContaining('3') },
      { field: 'count', message: expect.stringContaining('integer') },
    ]);
  });
});

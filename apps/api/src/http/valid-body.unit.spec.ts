import { ValidationPipe } from '@nestjs/common';
import fc from 'fast-check';
import { getMetadataStorage } from 'class-validator';
import { RecordDecisionDto } from '../incidents/decisions.http.controller';
import { ActivateWesternResponseDto } from '../incidents/measures.http.controller';
import {
  LocationDto,
  ReportBreachDto,
  SourceDto,
} from '../incidents/report-breach.http.controller';
import { SubmitFindingDto } from '../incidents/verification.http.controller';
import { createValidationPipe, VALIDATION_OPTIONS } from './validation';

/** Nest's pipe as it is, with the API's options: what the valid-body path must never contradict. */
const reference = new ValidationPipe(VALIDATION_OPTIONS);
const pipe = createValidationPipe();
const body = (metatype: new () => object) => ({ type: 'body' as const, metatype });

const outcome = (run: Promise<unknown>) =>
  run.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

/** The value with each object's class named, so two results compare by shape and classes. */
const shape = (value: unknown): unknown => {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(shape);
  const copy: Record<string, unknown> = { class: value.constructor.name };
  for (const [key, item] of Object.entries(value)) copy[key] = shape(item);
  return copy;
};

const validReport = () => ({
  location: { sector: 'S-7', frontlineKm: 512.5, lat: 47.6, lon: 35.9 },
  category: 'artillery',
  severity: 'major',
  source: { kind: 'sensor', id: 'sensor-0412' },
  summary: 'Shelling near the line of contact',
});

/** Values a field may be sent, valid for some fields and not for others. */
const anyField = fc.oneof(
  fc.constantFrom('artillery', 'major', 'sensor', 'S-7', ' ', '', 'x'.repeat(2001), 'a\u0000b'),
  fc.constantFrom('2025-06-01T08:00:00Z', '2025-06-01T08:00:00', '\ud800', 'other'),
  fc.constantFrom(0, -1, 512.5, 1400, 1401, 90.5, -180, Number.MAX_VALUE),
  fc.constantFrom(null, true, false, [], ['a'], {}, { kind: 'sensor' }),
  fc.string(),
  fc.double(),
);

describe('the valid-body path of the validation pipe', () => {
  it('makes a valid report what the pipe makes of it, nested classes included', async () => {
    const report = { ...validReport(), occurredAt: '2025-06-01T08:00:00Z' };

    const made = await pipe.transform(report, body(ReportBreachDto));

    expect(made).toBeInstanceOf(ReportBreachDto);
    expect((made as ReportBreachDto).location).toBeInstanceOf(LocationDto);
    expect((made as ReportBreachDto).source).toBeInstanceOf(SourceDto);
    expect(shape(made)).toEqual(shape(await reference.transform(report, body(ReportBreachDto))));
  });

  it('answers any report as the pipe does: the same instance, or the same errors', async () => {
    const fields = ['location', 'category', 'severity', 'source', 'summary', 'occurredAt'];
    const nestedFields = ['sector', 'frontlineKm', 'lat', 'lon', 'kind', 'id', 'extra'];
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom(...fields, 'extra', '__proto__'), anyField, {
          maxKeys: 3,
        }),
        fc.dictionary(fc.constantFrom(...nestedFields), anyField, { maxKeys: 2 }),
        fc.constantFrom('location', 'source'),
        fc.array(fc.constantFrom(...fields), { maxLength: 2 }),
        async (changed, nestedChanged, nestedIn, dropped) => {
          const report: Record<string, unknown> = { ...validReport(), ...changed };
          const nested = report[nestedIn];
          if (typeof nested === 'object' && nested !== null && !Array.isArray(nested))
            report[nestedIn] = { ...nested, ...nestedChanged };
          for (const field of dropped) delete report[field];
          const copy = () => JSON.parse(JSON.stringify(report)) as unknown;

          const fast = await outcome(pipe.transform(copy(), body(ReportBreachDto)));
          const slow = await outcome(reference.transform(copy(), body(ReportBreachDto)));

          if ('value' in fast)
            expect(shape(fast.value)).toEqual(shape((slow as typeof fast).value));
          else expect(fast.error).toEqual((slow as { error: unknown }).error);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('leaves to the pipe what it does not take as class-validator does', async () => {
    const { ValidBodies } = await import('./valid-body');
    const bodies = new ValidBodies(getMetadataStorage(), () => 'as-is');
    // Lists (rules for each item) are the pipe's; a report with a key unknown, too.
    for (const type of [SubmitFindingDto, ActivateWesternResponseDto, RecordDecisionDto])
      expect(bodies.accept(type, {})).toBeUndefined();
    expect(bodies.accept(ReportBreachDto, { ...validReport(), extra: 1 })).toBeUndefined();
  });
});

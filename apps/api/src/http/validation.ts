import { ArgumentMetadata, ValidationPipe } from '@nestjs/common';
import type { ValidationPipeOptions } from '@nestjs/common';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import { TransformationType } from 'class-transformer';
import { ValidationError } from '@truceline/domain';
import { getMetadataStorage } from 'class-validator';
import type { ValidationError as FieldFailure } from 'class-validator';
import { ValidBodies } from './valid-body';

export interface FieldError {
  field: string;
  message: string;
}

/**
 * class-validator's error tree as a flat list, one entry per bad field with its dotted path
 * (`location.frontlineKm`, `evidence.2`), so a client can point at every mistake at once.
 */
export function toFieldErrors(failures: FieldFailure[], parent = ''): FieldError[] {
  return failures.flatMap((failure) => {
    const field = parent ? `${parent}.${failure.property}` : failure.property;
    const own = Object.values(failure.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...toFieldErrors(failure.children ?? [], field)];
  });
}

/** The 400 the ValidationPipe throws: the problem filter renders its fields as `errors`. */
export function validationException(failures: FieldFailure[]): ValidationError {
  const errors = toFieldErrors(failures);
  const fields = [...new Set(errors.map((e) => e.field))];
  return new ValidationError(`invalid request: ${fields.join(', ')}`, errors);
}

type Storage = ReturnType<typeof getMetadataStorage>;
type Lookup = Storage['getTargetValidationMetadatas'];
type Metadatas = ReturnType<Lookup>;
const remembering = new WeakSet<Storage>();

/**
 * class-validator finds a class's rules anew on every object it validates (a POST's body and
 * each nested object in it): it tests the class against every class that has rules, for the
 * ones it inherits from, and groups the rules by property. The rules of a class only change
 * when a decorator adds one, so each class's rules are kept, with their grouping, until then.
 * Only lookups without groups are kept (the pipe never passes any); the rest go through as they
 * were. The lists are never changed by class-validator after it hands them out.
 */
export function rememberValidationRules(
  storage: Storage = getMetadataStorage(),
  onChange?: () => void,
): void {
  if (remembering.has(storage)) return;
  remembering.add(storage);
  const lookup: Lookup = storage.getTargetValidationMetadatas.bind(storage);
  const group = storage.groupByPropertyName.bind(storage);
  const add = storage.addValidationMetadata.bind(storage);
  let rules = new Map<string, Map<unknown, Metadatas>>();
  let grouped = new WeakMap<Metadatas, ReturnType<Storage['groupByPropertyName']>>();
  const forget = () => {
    rules = new Map();
    grouped = new WeakMap();
    onChange?.();
  };
  // A schema's rules come through here too.
  storage.addValidationMetadata = (metadata) => {
    forget();
    add(metadata);
  };
  storage.getTargetValidationMetadatas = (target, schema, always, strictGroups, groups) => {
    if (groups && groups.length > 0) return lookup(target, schema, always, strictGroups, groups);
    const key = `${schema} ${always} ${strictGroups}`;
    let byTarget = rules.get(key);
    if (!byTarget) rules.set(key, (byTarget = new Map()));
    let found = byTarget.get(target);
    if (!found)
      byTarget.set(target, (found = lookup(target, schema, always, strictGroups, groups)));
    return found;
  };
  storage.groupByPropertyName = (metadatas) => {
    let found = grouped.get(metadatas);
    if (!found) grouped.set(metadatas, (found = group(metadatas)));
    return found;
  };
}

type Class = new () => object;

/**
 * What class-transformer's plainToInstance (no options) does with a property of `type`: copies
 * its value as it is ('as-is': no @Type, no transform), or makes its plain object an instance
 * of a class (@Type, nothing else); undefined for anything else, or a class that exposes or
 * excludes: the valid-body path leaves those to the pipe.
 */
function propertyTypeOf(type: Class, property: string): Class | 'as-is' | undefined {
  const storage = defaultMetadataStorage;
  const plain = (target: Class) =>
    storage.getStrategy(target) === 'none' &&
    storage.getExposedMetadatas(target).length === 0 &&
    storage.getExcludedMetadatas(target).length === 0;
  if (!plain(type)) return undefined;
  if (storage.findTransformMetadatas(type, property, TransformationType.PLAIN_TO_CLASS).length)
    return undefined;
  const found = storage.findTypeMetadata(type, property);
  if (!found) return 'as-is';
  if (found.options?.discriminator) return undefined;
  const nested = found.typeFunction() as Class | undefined;
  return typeof nested === 'function' && plain(nested) ? nested : undefined;
}

/**
 * The pipe, with the bodies that surely pass it made without its walk (see ValidBodies): a
 * body that does not is validated by the pipe as before, which gives the errors.
 */
class BodyValidationPipe extends ValidationPipe {
  constructor(
    options: ValidationPipeOptions,
    private readonly bodies: ValidBodies,
  ) {
    super(options);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const type = metadata.metatype as Class | undefined;
    if (metadata.type === 'body' && typeof type === 'function') {
      const accepted = this.bodies.accept(type, value);
      if (accepted) return accepted;
    }
    return super.transform(value, metadata);
  }
}

/**
 * Bodies and queries are validated against their DTO; unknown fields are refused rather than
 * dropped (SPEC §6), so a misspelt optional field is reported instead of silently ignored.
 */
export const createValidationPipe = () => {
  const storage = getMetadataStorage();
  const bodies = new ValidBodies(storage, propertyTypeOf);
  rememberValidationRules(storage, () => bodies.forget());
  return new BodyValidationPipe(VALIDATION_OPTIONS, bodies);
};

/** The pipe's options (also what the valid-body path is held to in its spec). */
export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  stopAtFirstError: true,
  validationError: { target: false, value: false },
  exceptionFactory: validationException,
};

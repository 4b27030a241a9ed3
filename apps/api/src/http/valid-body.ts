import { getMetadataStorage } from 'class-validator';
import type { ValidationArguments } from 'class-validator';

type Storage = ReturnType<typeof getMetadataStorage>;
type Metadata = ReturnType<Storage['getTargetValidationMetadatas']>[number];
type Class = new () => object;

/** What plainToInstance does with a property's value (see validation.ts); undefined: not this path's. */
type PropertyType = (type: Class, property: string) => Class | 'as-is' | undefined;

/** One property's rules, as class-validator's executor runs them. */
interface PropertyRules {
  name: string;
  /** What class-transformer does with its value: copy it, or make it this class. */
  copied: Class | 'as-is';
  /** ValidateIf: the other rules apply only when every condition holds. */
  conditions: ((object: object, value: unknown) => boolean)[];
  /** IsDefined, then the other rules, each a constraint's own validate. */
  defined: Metadata[];
  custom: Metadata[];
  /** ValidateNested with @Type: a plain object becomes an instance of this class. */
  nested?: Rules;
}

interface Rules {
  type: Class;
  properties: Map<string, PropertyRules>;
}

/**
 * The rules of a class, or null when they hold anything this path does not take as
 * class-validator does (groups, `always`, rules for each item, a nested property without a
 * class, rules of kinds other than the four the API's fields use).
 */
function rulesOf(
  storage: Storage,
  type: Class,
  typeOf: PropertyType,
  seen = new Set<Class>(),
): Rules | null {
  if (seen.has(type)) return null;
  seen.add(type);
  // The executor's own lookup (no schema, groups or `always`): the same rules it would run.
  const metadatas = storage.getTargetValidationMetadatas(type, '', false, false, undefined);
  if (metadatas.length === 0) return null;
  const properties = new Map<string, PropertyRules>();
  for (const metadata of metadatas) {
    if (metadata.each) return null;
    let rules = properties.get(metadata.propertyName);
    if (!rules) {
      const copied = typeOf(type, metadata.propertyName);
      if (copied === undefined) return null;
      rules = { name: metadata.propertyName, copied, conditions: [], defined: [], custom: [] };
      properties.set(metadata.propertyName, rules);
    }
    switch (metadata.type) {
      case 'conditionalValidation':
        rules.conditions.push(metadata.constraints[0] as PropertyRules['conditions'][number]);
        break;
      case 'isDefined':
        rules.defined.push(metadata);
        break;
      case 'customValidation':
        if (metadata.validateIf) return null;
        rules.custom.push(metadata);
        break;
      case 'nestedValidation': {
        const nestedType = typeOf(type, metadata.propertyName);
        const nested =
          typeof nestedType === 'function' && rulesOf(storage, nestedType, typeOf, seen);
        if (!nested) return null;
        rules.nested = nested;
        break;
      }
      default:
        return null;
    }
  }
  seen.delete(type);
  // A @Type without ValidateNested converts values the way this path does not.
  for (const rules of properties.values())
    if (rules.copied !== 'as-is' && !rules.nested) return null;
  // Whitelisting looks at the instance's own keys, a class field without rules among them.
  for (const key of Object.keys(new type())) if (!properties.has(key)) return null;
  return { type, properties };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/**
 * The instance class-transformer's plainToInstance makes of `value` (no options: values copied
 * as they are, a nested class built from its plain object), when every key is a property with
 * rules and every value is a string, a finite number, a boolean or a plain object of a nested
 * class; else undefined.
 */
function build(rules: Rules, value: unknown): object | undefined {
  if (!isPlainObject(value)) return undefined;
  const entity = new rules.type() as Record<string, unknown>;
  for (const key of Object.keys(value)) {
    const property = rules.properties.get(key);
    if (!property) return undefined;
    const item = value[key];
    if (property.nested) {
      const built = build(property.nested, item);
      if (!built) return undefined;
      entity[key] = built;
    } else if (
      typeof item === 'string' ||
      typeof item === 'boolean' ||
      (typeof item === 'number' && Number.isFinite(item))
    ) {
      entity[key] = item;
    } else {
      return undefined;
    }
  }
  return entity;
}

/** Whether every rule of every property holds, as the executor would find (synchronously). */
function holds(storage: Storage, rules: Rules, entity: Record<string, unknown>): boolean {
  // Whitelisting: build took only keys with rules, so nothing on the entity lacks them.
  for (const property of rules.properties.values()) {
    const value = entity[property.name];
    if (!property.conditions.every((condition) => condition(entity, value))) continue;
    if (!passes(storage, property.defined, entity, value)) return false;
    if (!passes(storage, property.custom, entity, value)) return false;
    if (property.nested) {
      if (!isPlainObject(value) && !(value instanceof property.nested.type)) return false;
      if (!holds(storage, property.nested, value as Record<string, unknown>)) return false;
    }
  }
  return true;
}

function passes(
  storage: Storage,
  metadatas: Metadata[],
  entity: Record<string, unknown>,
  value: unknown,
): boolean {
  for (const metadata of metadatas) {
    const args: ValidationArguments = {
      targetName: entity.constructor.name,
      property: metadata.propertyName,
      object: entity,
      value,
      constraints: metadata.constraints,
    };
    for (const constraint of storage.getTargetValidatorConstraints(metadata.constraintCls)) {
      // An asynchronous rule is the executor's to await.
      if (constraint.async) return false;
      const valid: unknown = constraint.instance.validate(value, args);
      if (valid !== true) return false;
    }
  }
  return true;
}

/**
 * A body the validation pipe would accept and return, made without its walk when that is
 * certain: the plain object parsed from JSON becomes the DTO's instance, checked against the
 * DTO's own rules (each constraint's validate, the same functions class-validator calls), and
 * is returned when every rule holds. Anything else — a rule failing, a key without rules, a
 * value other than a string, finite number, boolean or nested object, a rule of a kind this
 * path does not know — answers undefined, and the pipe validates as before and gives its
 * errors: this path decides only bodies that pass.
 *
 * Why: for a report, Nest's pipe with class-transformer and class-validator's executor was about
 * a tenth of the API's main thread a POST and a quarter of what it allocated (an error object,
 * closures and filtered lists per property, even when nothing fails).
 */
export class ValidBodies {
  private readonly rules = new Map<Class, Rules | null>();

  /**
   * `typeOf`: what class-transformer does with a property: copies it as it is, or makes a
   * nested class of it (its @Type); undefined when it does more (the pipe then decides).
   */
  constructor(
    private readonly storage: Storage,
    private readonly typeOf: PropertyType,
  ) {}

  /** The rules changed (a decorator ran): what was compiled is dropped. */
  forget(): void {
    this.rules.clear();
  }

  /** The DTO instance of `value` when it surely passes the pipe; else undefined. */
  accept(type: Class, value: unknown): object | undefined {
    let rules = this.rules.get(type);
    if (rules === undefined) {
      rules = rulesOf(this.storage, type, this.typeOf);
      this.rules.set(type, rules);
    }
    if (!rules) return undefined;
    const entity = build(rules, value);
    if (!entity) return undefined;
    try {
      return holds(this.storage, rules, entity as Record<string, unknown>) ? entity : undefined;
    } catch {
      // A rule that throws is the executor's to report.
      return undefined;
    }
  }
}

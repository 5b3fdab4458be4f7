import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { getMetadataStorage, type MetadataStorage } from 'class-validator';
import { GatewayError, GwCode } from './gateway-error.js';

type RuleLookup = MetadataStorage['getTargetValidationMetadatas'];
type RuleTarget = Parameters<RuleLookup>[0];
type ClassRules = ReturnType<RuleLookup>;

const memoizedStorages = new WeakSet<MetadataStorage>();

/**
 * class-validator looks a class's rules up on every validation, by filtering the rules of every
 * class it holds for the target and its ancestors; on the gateway's hot path that costs more than
 * checking the rules. Rules are declared as the modules load, so each class's are kept once found,
 * until a rule is added (a mapped type copies its parent's rules when it is made, for one).
 * Lookups by group are not kept: the gateway validates without groups.
 */
export function memoizeRuleLookup(storage: MetadataStorage): void {
  if (memoizedStorages.has(storage)) return;
  memoizedStorages.add(storage);
  const lookUp = storage.getTargetValidationMetadatas.bind(storage);
  const addRule = storage.addValidationMetadata.bind(storage);
  let found = new Map<RuleTarget, Map<string, ClassRules>>();
  storage.addValidationMetadata = (metadata) => {
    found = new Map();
    addRule(metadata);
  };
  storage.getTargetValidationMetadatas = (target, schema, always, strictGroups, groups) => {
    // The key names every argument the answer depends on but the target.
    if (groups !== undefined && groups.length > 0) {
      return lookUp(target, schema, always, strictGroups, groups);
    }
    const options = `${schema}|${always}|${strictGroups}`;
    let byOptions = found.get(target);
    if (byOptions === undefined) found.set(target, (byOptions = new Map()));
    let rules = byOptions.get(options);
    if (rules === undefined) {
      rules = lookUp(target, schema, always, strictGroups, groups);
      byOptions.set(options, rules);
    }
    return rules;
  };
}

function violations(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.entries(error.constraints ?? {}).map(([name, message]) =>
      name === 'whitelistValidation'
        ? `${field}: unknown field is not allowed`
        : `${field}: ${message}`,
    );
    return [...own, ...violations(error.children ?? [], field)];
  });
}

/**
 * class-validator's whitelist looks field names up in a plain object, so a field named after an
 * `Object.prototype` member (`constructor`, `hasOwnProperty`, ...) passes as known. Those are
 * found here, at any depth, and named like any other unknown field.
 */
function inheritedKeyIn(value: unknown): string | undefined {
  const pending: [unknown, string][] = [[value, '']];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, path] = next;
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, child] of Object.entries(node)) {
      const field = path ? `${path}.${key}` : key;
      if (key in Object.prototype) return field;
      pending.push([child, field]);
    }
  }
  return undefined;
}

/**
 * One pipe for both channels. Unknown fields are refused rather than stripped: a caller who
 * misspells a field of an irreversible call must hear about it.
 */
export class GatewayValidationPipe extends ValidationPipe {
  constructor() {
    memoizeRuleLookup(getMetadataStorage());
    super({
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      exceptionFactory: (errors) =>
        new GatewayError(GwCode.VALIDATION, 400, violations(errors).join('; ')),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // A missing body, an array or a bare value has no fields to name: say what it should be.
    const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
    if (metadata.type === 'body' && !isObject && this.toValidate(metadata)) {
      throw GatewayError.validation('body', 'must be a JSON object');
    }
    // Only what a REST caller sent: GraphQL refuses unknown input fields itself, and the request
    // and context objects other parameters receive are not JSON.
    const sentByCaller = ['body', 'query', 'param'].includes(metadata.type);
    const inherited = sentByCaller ? inheritedKeyIn(value) : undefined;
    if (inherited) throw GatewayError.validation(inherited, 'unknown field is not allowed');
    return super.transform(value, metadata);
  }
}

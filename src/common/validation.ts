import { type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { GatewayError, GwCode } from './gateway-error.js';

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

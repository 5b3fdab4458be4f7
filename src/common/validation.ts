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
    return super.transform(value, metadata);
  }
}

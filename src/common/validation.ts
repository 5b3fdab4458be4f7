import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { GatewayError, GwCode } from './gateway-error.js';

function violations(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.entries(error.constraints ?? {}).map(([name, message]) =>
      name === 'whitelistValidation' ? `${field}: unknown field is not allowed` : `${field}: ${message}`,
    );
    return [...own, ...violations(error.children ?? [], field)];
  });
}

/**
 * One pipe for both channels. Unknown fields are refused rather than stripped: a caller who
 * misspells a field of an irreversible call must hear about it.
 */
export function gatewayValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: true,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    exceptionFactory: (errors) =>
      new GatewayError(GwCode.VALIDATION, 400, violations(errors).join('; ')),
  });
}

import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';

/** A setting that stops the start, named with the rule it breaks, as `validateEnv` names them. */
export function configError(variable: string, rule: string): Error {
  return new Error(`Invalid configuration:\n  ${variable}: ${rule}`);
}

/**
 * Validates the environment variables one module owns (a class whose properties are named after
 * the variables). A wrong value stops the process with a message that names the variable.
 */
export function validateEnv<T extends object>(
  env: Record<string, string | undefined>,
  schema: new () => T,
): T {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const instance = plainToInstance(schema, present, { enableImplicitConversion: true });
  const errors = validateSync(instance, {
    skipMissingProperties: false,
    forbidUnknownValues: true,
  });
  if (errors.length > 0) {
    const details = errors
      .map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`)
      .join('\n  ');
    throw new Error(`Invalid configuration:\n  ${details}`);
  }
  return instance;
}

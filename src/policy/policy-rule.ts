import {
  Equals,
  IsInt,
  IsNotEmpty,
  IsString,
  Max,
  Min,
  ValidateBy,
  ValidateIf,
  type ValidationArguments,
} from 'class-validator';
import { ACTIONS, type Action } from '../domain/actions.js';
import { MAX_RETENTION_DAYS } from '../domain/retention.js';

/** In an allowlist, admits any value. */
export const ANY = '*';

export const isMapping = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isNonEmptyStringList = (value: unknown): value is string[] =>
  Array.isArray(value) &&
  value.length > 0 &&
  value.every((item) => typeof item === 'string' && item.length > 0);

const NON_EMPTY_LIST = `must be a non-empty list of non-empty strings ("${ANY}" = any)`;

function IsNonEmptyStringList(): PropertyDecorator {
  return ValidateBy({
    name: 'isNonEmptyStringList',
    validator: { validate: isNonEmptyStringList, defaultMessage: () => NON_EMPTY_LIST },
  });
}

function tagAllowlistProblem(value: unknown): string | undefined {
  if (!isMapping(value)) {
    return 'must be a mapping of tag key to allowed values (may be {})';
  }
  for (const [key, values] of Object.entries(value)) {
    if (key.length === 0) return 'tag keys must be non-empty';
    if (!isNonEmptyStringList(values)) return `values of ${key} ${NON_EMPTY_LIST}`;
  }
  return undefined;
}

function IsTagAllowlist(): PropertyDecorator {
  return ValidateBy({
    name: 'isTagAllowlist',
    validator: {
      validate: (value: unknown) => tagAllowlistProblem(value) === undefined,
      defaultMessage: (args?: ValidationArguments) => tagAllowlistProblem(args?.value) ?? '',
    },
  });
}

const ACTIONS_RULE = `must be a non-empty list of distinct actions from ${ACTIONS.join(', ')}`;

function IsActionList(): PropertyDecorator {
  return ValidateBy({
    name: 'isActionList',
    validator: {
      validate: (value: unknown) =>
        Array.isArray(value) &&
        value.length > 0 &&
        new Set(value).size === value.length &&
        value.every((action) => (ACTIONS as readonly unknown[]).includes(action)),
      defaultMessage: () => ACTIONS_RULE,
    },
  });
}

/** Present fields must hold a value: `maxRetentionDays:` with nothing after it is refused, not read as "no limit". */
const unlessAbsent = ValidateIf((_object: object, value: unknown) => value !== undefined);

const RETENTION_RULE = `must be an integer between 1 and ${MAX_RETENTION_DAYS}`;

/** One rule of the policy file, as validated on load. Fields not declared here are refused. */
export class PolicyRule {
  @IsString({ message: 'must be a non-empty string' })
  @IsNotEmpty({ message: 'must be a non-empty string' })
  id!: string;

  @unlessAbsent
  @IsString({ message: 'must be a string' })
  description?: string;

  @IsNonEmptyStringList() groups!: string[];
  @IsNonEmptyStringList() projects!: string[];
  @IsNonEmptyStringList() enterpriseProjects!: string[];
  @IsTagAllowlist() tags!: Record<string, string[]>;
  @IsActionList() actions!: Action[];

  @unlessAbsent
  @IsInt({ message: RETENTION_RULE })
  @Min(1, { message: RETENTION_RULE })
  @Max(MAX_RETENTION_DAYS, { message: RETENTION_RULE })
  maxRetentionDays?: number;
}

/** The top of the policy file. `rules` is checked here only as a list; each rule on its own. */
export class PolicyDocument {
  @Equals(1, { message: 'must be 1' }) version!: number;

  @ValidateBy({
    name: 'isRuleList',
    validator: {
      validate: (value: unknown) => Array.isArray(value) && value.length > 0,
      defaultMessage: () => 'must be a non-empty list of rules',
    },
  })
  rules!: unknown[];
}

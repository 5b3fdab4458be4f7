import { Transform, plainToInstance } from 'class-transformer';
import {
  Equals,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsString,
  Max,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  type ValidationArguments,
} from 'class-validator';
import { ACTIONS, type Action } from '../domain/actions.js';
import { DURATION_RULE, parseDurationSeconds } from '../domain/duration.js';
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

function IsNonEmptyStringList(message = NON_EMPTY_LIST): PropertyDecorator {
  return ValidateBy({
    name: 'isNonEmptyStringList',
    validator: { validate: isNonEmptyStringList, defaultMessage: () => message },
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

/** More approvers than this is a policy no team could meet in time. */
export const MAX_APPROVALS_REQUIRED = 10;
const APPROVALS_RULE = `must be an integer between 1 and ${MAX_APPROVALS_REQUIRED}`;
const ABOVE_RETENTION_RULE = `must be an integer between 0 and ${MAX_RETENTION_DAYS}`;

/** The longest cooling-off a rule may ask: longer than that, the request outlives its reasons. */
export const MAX_COOLING_OFF_SECONDS = 30 * 86_400;
const COOLING_OFF_RULE = `must be a duration from 0s to 30d; ${DURATION_RULE}`;

const isCoolingOff = (value: unknown): boolean => {
  const seconds = parseDurationSeconds(value);
  return seconds !== undefined && seconds <= MAX_COOLING_OFF_SECONDS;
};

/** `minRetentionDays` above `maxRetentionDays` would make a rule that allows nothing. */
function IsAtMostMaxRetention(): PropertyDecorator {
  const maxOf = (args?: ValidationArguments): unknown =>
    (args?.object as Partial<PolicyRule> | undefined)?.maxRetentionDays;
  return ValidateBy({
    name: 'isAtMostMaxRetention',
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => {
        const max = maxOf(args);
        return typeof max !== 'number' || typeof value !== 'number' || value <= max;
      },
      defaultMessage: (args?: ValidationArguments) =>
        `must not exceed maxRetentionDays (${String(maxOf(args))})`,
    },
  });
}

const APPROVAL_MAPPING = 'must be a mapping with required, approverGroups and aboveRetentionDays';

/** Who must approve a lock change allowed by the rule before it is applied (DESIGN §6). */
export class ApprovalRule {
  @IsInt({ message: APPROVALS_RULE })
  @Min(1, { message: APPROVALS_RULE })
  @Max(MAX_APPROVALS_REQUIRED, { message: APPROVALS_RULE })
  required!: number;

  @IsNonEmptyStringList('must be a non-empty list of non-empty group names')
  approverGroups!: string[];

  /** Only requests asking for more days than this need approval. */
  @IsInt({ message: ABOVE_RETENTION_RULE })
  @Min(0, { message: ABOVE_RETENTION_RULE })
  @Max(MAX_RETENTION_DAYS, { message: ABOVE_RETENTION_RULE })
  aboveRetentionDays = 0;
}

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

  @unlessAbsent
  @IsInt({ message: RETENTION_RULE })
  @Min(1, { message: RETENTION_RULE })
  @Max(MAX_RETENTION_DAYS, { message: RETENTION_RULE })
  @IsAtMostMaxRetention()
  minRetentionDays?: number;

  @unlessAbsent
  @IsObject({ message: APPROVAL_MAPPING })
  @ValidateNested({ message: APPROVAL_MAPPING })
  // Not @Type, which needs reflect-metadata: the policy is also parsed outside Nest.
  @Transform(({ value }: { value: unknown }) =>
    isMapping(value) ? plainToInstance(ApprovalRule, value) : value,
  )
  approval?: ApprovalRule;

  /** A duration (`72h`): the wait between the last approval (or the request) and the PUT. */
  @unlessAbsent
  @ValidateBy({
    name: 'isCoolingOff',
    validator: { validate: isCoolingOff, defaultMessage: () => COOLING_OFF_RULE },
  })
  coolingOff?: string;
}

/** Seconds to wait before the lock is applied; 0 when the rule asks none. */
export const coolingOffSecondsOf = (rule: PolicyRule): number =>
  parseDurationSeconds(rule.coolingOff) ?? 0;

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

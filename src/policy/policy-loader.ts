import { createHash } from 'node:crypto';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { parse } from 'yaml';
import { PolicyDocument, PolicyRule, isMapping } from './policy-rule.js';

export interface LoadedPolicy {
  /** `sha256:` + the first 16 hex digits of the SHA-256 of the file: names the policy in every decision. */
  version: string;
  rules: readonly PolicyRule[];
  /** Where the policy was read from, for messages. */
  source: string;
}

/** A policy file that cannot be used. The message names the file and every problem found. */
export class PolicyFileError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`Policy file ${source} is invalid:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyFileError';
  }
}

export function policyVersionOf(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16)}`;
}

const VALIDATION = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true };

/** Parses and validates a policy file's text (YAML, or JSON which is YAML too). */
export function parsePolicy(text: string, source: string): LoadedPolicy {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new PolicyFileError(source, [`not valid YAML or JSON: ${(error as Error).message}`]);
  }
  if (!isMapping(raw)) {
    throw new PolicyFileError(source, ['must be a mapping with version and rules']);
  }

  const document = plainToInstance(PolicyDocument, raw);
  const problems = describe(validateSync(document, VALIDATION), '');
  const rules: PolicyRule[] = [];
  if (Array.isArray(raw.rules)) {
    const firstIndexOfId = new Map<string, number>();
    raw.rules.forEach((rawRule: unknown, index) => {
      const label = ruleLabel(rawRule, index);
      if (!isMapping(rawRule)) {
        problems.push(`${label}: must be a mapping`);
        return;
      }
      const rule = plainToInstance(PolicyRule, rawRule);
      problems.push(...describe(validateSync(rule, VALIDATION), label));
      rules.push(rule);
      const earlier = typeof rule.id === 'string' ? firstIndexOfId.get(rule.id) : undefined;
      if (earlier !== undefined) {
        problems.push(`${label}.id: duplicates rules[${earlier}]`);
      } else if (typeof rule.id === 'string') {
        firstIndexOfId.set(rule.id, index);
      }
    });
  }
  if (problems.length > 0) {
    throw new PolicyFileError(source, problems);
  }
  return { version: policyVersionOf(text), rules: Object.freeze(rules), source };
}

function ruleLabel(rawRule: unknown, index: number): string {
  const id = isMapping(rawRule) ? rawRule.id : undefined;
  return typeof id === 'string' && id.length > 0 ? `rules[${index}] (${id})` : `rules[${index}]`;
}

/**
 * One line per field in error, nested fields (`approval.required`) included. A field wrong as a
 * whole (a list where a mapping belongs) is one line: what is inside it says nothing more.
 */
function describe(errors: ValidationError[], prefix: string): string[] {
  return errors.flatMap((error) => {
    const path = prefix ? `${prefix}.${error.property}` : error.property;
    const messages = Object.entries(error.constraints ?? {}).map(([constraint, message]) =>
      constraint === 'whitelistValidation' ? 'unknown field' : message,
    );
    return messages.length > 0
      ? [`${path}: ${[...new Set(messages)].join('; ')}`]
      : describe(error.children ?? [], path);
  });
}

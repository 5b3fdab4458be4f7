import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { PolicyFileError, parsePolicy } from './policy-loader.js';

const EXAMPLE_FILE = resolve(process.cwd(), 'config/policy.example.yaml');

const goodRule = () => ({
  id: 'finance-dba',
  description: 'DBAs may lock finance databases',
  groups: ['dba'],
  projects: ['*'],
  enterpriseProjects: ['0'],
  tags: { env: ['prod', 'staging'], owner: ['*'] },
  actions: ['enable', 'extend', 'show'],
  maxRetentionDays: 3650,
});

const readRule = () => ({ ...goodRule(), id: 'auditors-read', actions: ['show'], tags: {} });

function problemsOf(text: string): readonly string[] {
  try {
    parsePolicy(text, '/etc/gateway/policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyFileError);
    expect((error as PolicyFileError).message).toContain('/etc/gateway/policy.yaml');
    return (error as PolicyFileError).problems;
  }
  throw new Error('the policy was accepted');
}

/** A policy whose second rule is the good rule changed by `change`. */
const withSecondRule = (change: (rule: Record<string, unknown>) => void): string => {
  const rule: Record<string, unknown> = goodRule();
  change(rule);
  return stringify({ version: 1, rules: [readRule(), rule] });
};

describe('parsePolicy', () => {
  it('loads the bundled example, versioned by the hash of its bytes', () => {
    const bytes = readFileSync(EXAMPLE_FILE);
    const policy = parsePolicy(bytes.toString('utf8'), EXAMPLE_FILE);

    const digest = createHash('sha256').update(bytes).digest('hex');
    expect(policy.version).toBe(`sha256:${digest.slice(0, 16)}`);
    expect(policy.source).toBe(EXAMPLE_FILE);
    expect(policy.rules.map((rule) => rule.id)).toEqual([
      'finance-dba',
      'auditors-read',
      'marketing-four-eyes',
    ]);
    expect(policy.rules[0]).toMatchObject({
      groups: ['dba'],
      enterpriseProjects: ['0', '5a1e0c9e-7d4b-4c2a-9f3e-1b2c3d4e5f60'],
      tags: { env: ['prod', 'staging'], owner: ['*'] },
      maxRetentionDays: 3650,
    });
    expect(policy.rules[1].maxRetentionDays).toBeUndefined();
    expect(policy.rules[2]).toMatchObject({
      actions: ['enable'],
      approval: { required: 2, approverGroups: ['dba-lead'], aboveRetentionDays: 0 },
      coolingOff: '72h',
      minRetentionDays: 7,
    });
  });

  it('reads JSON as well as YAML', () => {
    const policy = parsePolicy(JSON.stringify({ version: 1, rules: [goodRule()] }), 'p.json');
    expect(policy.rules[0].id).toBe('finance-dba');
  });

  it('gives a different version to a file that differs by one byte', () => {
    const text = stringify({ version: 1, rules: [goodRule()] });
    expect(parsePolicy(text, 'a').version).not.toBe(parsePolicy(`${text}\n`, 'a').version);
  });

  it.each([
    ['not YAML', 'version: 1\nrules: [\n', /^not valid YAML or JSON: /],
    ['a duplicate key', 'version: 1\nversion: 1\nrules: []\n', /^not valid YAML or JSON: .*unique/],
    ['a list at the top', '- version: 1\n', /^must be a mapping with version and rules$/],
    ['an empty file', '', /^must be a mapping with version and rules$/],
  ])('refuses %s', (_name, text, problem) => {
    expect(problemsOf(text)).toEqual([expect.stringMatching(problem)]);
  });

  it.each([
    ['version 2', { version: 2, rules: [goodRule()] }, 'version: must be 1'],
    ['no version', { rules: [goodRule()] }, 'version: must be 1'],
    ['no rules', { version: 1, rules: [] }, 'rules: must be a non-empty list of rules'],
    ['a missing rules key', { version: 1 }, 'rules: must be a non-empty list of rules'],
    [
      'rules as a mapping',
      { version: 1, rules: { a: goodRule() } },
      'rules: must be a non-empty list of rules',
    ],
    [
      'an unknown top-level field',
      { version: 1, rules: [goodRule()], owner: 'x' },
      'owner: unknown field',
    ],
    [
      'a rule that is not a mapping',
      { version: 1, rules: [goodRule(), 'x'] },
      'rules[1]: must be a mapping',
    ],
  ])('refuses a document with %s', (_name, document, problem) => {
    expect(problemsOf(stringify(document))).toEqual([problem]);
  });

  it.each<[string, (rule: Record<string, unknown>) => void, string]>([
    [
      'retention above the lock limit',
      (rule) => (rule.maxRetentionDays = 36501),
      'rules[1] (finance-dba).maxRetentionDays: must be an integer between 1 and 36500',
    ],
    [
      'a fractional retention',
      (rule) => (rule.maxRetentionDays = 1.5),
      'rules[1] (finance-dba).maxRetentionDays: must be an integer between 1 and 36500',
    ],
    [
      'a retention given as text',
      (rule) => (rule.maxRetentionDays = '3650'),
      'rules[1] (finance-dba).maxRetentionDays: must be an integer between 1 and 36500',
    ],
    [
      'a retention key without a value',
      (rule) => (rule.maxRetentionDays = null),
      'rules[1] (finance-dba).maxRetentionDays: must be an integer between 1 and 36500',
    ],
    ['a missing id', (rule) => delete rule.id, 'rules[1].id: must be a non-empty string'],
    ['an empty id', (rule) => (rule.id = ''), 'rules[1].id: must be a non-empty string'],
    [
      'a numeric description',
      (rule) => (rule.description = 7),
      'rules[1] (finance-dba).description: must be a string',
    ],
    [
      'an empty groups list',
      (rule) => (rule.groups = []),
      'rules[1] (finance-dba).groups: must be a non-empty list of non-empty strings ("*" = any)',
    ],
    [
      'a group given as a string',
      (rule) => (rule.groups = 'dba'),
      'rules[1] (finance-dba).groups: must be a non-empty list of non-empty strings ("*" = any)',
    ],
    [
      'an enterprise project written as a number',
      (rule) => (rule.enterpriseProjects = [0]),
      'rules[1] (finance-dba).enterpriseProjects: must be a non-empty list of non-empty strings ("*" = any)',
    ],
    [
      'missing projects',
      (rule) => delete rule.projects,
      'rules[1] (finance-dba).projects: must be a non-empty list of non-empty strings ("*" = any)',
    ],
    [
      'a tag with no allowed values',
      (rule) => (rule.tags = { env: [] }),
      'rules[1] (finance-dba).tags: values of env must be a non-empty list of non-empty strings ("*" = any)',
    ],
    [
      'tags given as a list',
      (rule) => (rule.tags = ['env']),
      'rules[1] (finance-dba).tags: must be a mapping of tag key to allowed values (may be {})',
    ],
    [
      'missing tags',
      (rule) => delete rule.tags,
      'rules[1] (finance-dba).tags: must be a mapping of tag key to allowed values (may be {})',
    ],
    [
      'an unknown action',
      (rule) => (rule.actions = ['enable', 'disable']),
      'rules[1] (finance-dba).actions: must be a non-empty list of distinct actions from enable, extend, show',
    ],
    [
      'an action listed twice',
      (rule) => (rule.actions = ['show', 'show']),
      'rules[1] (finance-dba).actions: must be a non-empty list of distinct actions from enable, extend, show',
    ],
    [
      'no actions',
      (rule) => (rule.actions = []),
      'rules[1] (finance-dba).actions: must be a non-empty list of distinct actions from enable, extend, show',
    ],
    [
      'an unknown field (a typo of maxRetentionDays)',
      (rule) => (rule.maxRetentionDay = 10),
      'rules[1] (finance-dba).maxRetentionDay: unknown field',
    ],
    [
      'approval asking for no approver',
      (rule) => (rule.approval = { required: 0, approverGroups: ['dba-lead'] }),
      'rules[1] (finance-dba).approval.required: must be an integer between 1 and 10',
    ],
    [
      'approval asking for eleven approvers',
      (rule) => (rule.approval = { required: 11, approverGroups: ['dba-lead'] }),
      'rules[1] (finance-dba).approval.required: must be an integer between 1 and 10',
    ],
    [
      'approval with a fractional count',
      (rule) => (rule.approval = { required: 1.5, approverGroups: ['dba-lead'] }),
      'rules[1] (finance-dba).approval.required: must be an integer between 1 and 10',
    ],
    [
      'approval without approver groups',
      (rule) => (rule.approval = { required: 2 }),
      'rules[1] (finance-dba).approval.approverGroups: must be a non-empty list of non-empty group names',
    ],
    [
      'approval with an empty approver group',
      (rule) => (rule.approval = { required: 2, approverGroups: [''] }),
      'rules[1] (finance-dba).approval.approverGroups: must be a non-empty list of non-empty group names',
    ],
    [
      'approval with a negative aboveRetentionDays',
      (rule) => (rule.approval = { required: 2, approverGroups: ['a'], aboveRetentionDays: -1 }),
      'rules[1] (finance-dba).approval.aboveRetentionDays: must be an integer between 0 and 36500',
    ],
    [
      'approval with an aboveRetentionDays key without a value',
      (rule) => (rule.approval = { required: 2, approverGroups: ['a'], aboveRetentionDays: null }),
      'rules[1] (finance-dba).approval.aboveRetentionDays: must be an integer between 0 and 36500',
    ],
    [
      'approval with an unknown field',
      (rule) => (rule.approval = { required: 2, approverGroups: ['a'], approvers: ['bob'] }),
      'rules[1] (finance-dba).approval.approvers: unknown field',
    ],
    [
      'approval given as a number',
      (rule) => (rule.approval = 2),
      'rules[1] (finance-dba).approval: must be a mapping with required, approverGroups and aboveRetentionDays',
    ],
    [
      'approval given as a list',
      (rule) => (rule.approval = [{ required: 2, approverGroups: ['a'] }]),
      'rules[1] (finance-dba).approval: must be a mapping with required, approverGroups and aboveRetentionDays',
    ],
    [
      'an approval key without a value',
      (rule) => (rule.approval = null),
      'rules[1] (finance-dba).approval: must be a mapping with required, approverGroups and aboveRetentionDays',
    ],
    [
      'a cooling-off without a unit',
      (rule) => (rule.coolingOff = '72'),
      'rules[1] (finance-dba).coolingOff: must be a duration from 0s to 30d; must be a whole number followed by s, m, h or d (e.g. 90s, 15m, 24h, 3d)',
    ],
    [
      'a cooling-off given as a number',
      (rule) => (rule.coolingOff = 3600),
      'rules[1] (finance-dba).coolingOff: must be a duration from 0s to 30d; must be a whole number followed by s, m, h or d (e.g. 90s, 15m, 24h, 3d)',
    ],
    [
      'a cooling-off longer than 30 days',
      (rule) => (rule.coolingOff = '721h'),
      'rules[1] (finance-dba).coolingOff: must be a duration from 0s to 30d; must be a whole number followed by s, m, h or d (e.g. 90s, 15m, 24h, 3d)',
    ],
    [
      'a minRetentionDays of 0',
      (rule) => (rule.minRetentionDays = 0),
      'rules[1] (finance-dba).minRetentionDays: must be an integer between 1 and 36500',
    ],
    [
      'a minRetentionDays above maxRetentionDays',
      (rule) => (rule.minRetentionDays = 3651),
      'rules[1] (finance-dba).minRetentionDays: must not exceed maxRetentionDays (3650)',
    ],
    [
      'an id used twice',
      (rule) => (rule.id = 'auditors-read'),
      'rules[1] (auditors-read).id: duplicates rules[0]',
    ],
  ])('refuses a rule with %s', (_name, change, problem) => {
    expect(problemsOf(withSecondRule(change))).toEqual([problem]);
  });

  it('reads approval, cooling-off and minimum retention, aboveRetentionDays defaulting to 0', () => {
    const text = withSecondRule((rule) => {
      rule.approval = { required: 2, approverGroups: ['dba-lead'] };
      rule.coolingOff = '30d';
      rule.minRetentionDays = 3650;
    });
    const rule = parsePolicy(text, 'p.yaml').rules[1];
    expect(rule.approval).toEqual({
      required: 2,
      approverGroups: ['dba-lead'],
      aboveRetentionDays: 0,
    });
    expect(rule.coolingOff).toBe('30d');
    expect(rule.minRetentionDays).toBe(3650);
  });

  it('accepts a minRetentionDays without a maxRetentionDays, and a cooling-off of 0s', () => {
    const text = withSecondRule((rule) => {
      delete rule.maxRetentionDays;
      rule.minRetentionDays = 36500;
      rule.coolingOff = '0s';
    });
    expect(parsePolicy(text, 'p.yaml').rules[1]).toMatchObject({
      minRetentionDays: 36500,
      coolingOff: '0s',
    });
  });

  it('names every problem of every rule at once', () => {
    const text = stringify({
      version: 1,
      rules: [
        { ...goodRule(), groups: [] },
        { ...readRule(), actions: ['delete'], maxRetentionDays: 0 },
      ],
    });
    const error = (() => {
      try {
        parsePolicy(text, 'policy.yaml');
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('the policy was accepted');
    })();
    expect(error.message).toBe(
      [
        'Policy file policy.yaml is invalid:',
        '  rules[0] (finance-dba).groups: must be a non-empty list of non-empty strings ("*" = any)',
        '  rules[1] (auditors-read).actions: must be a non-empty list of distinct actions from enable, extend, show',
        '  rules[1] (auditors-read).maxRetentionDays: must be an integer between 1 and 36500',
      ].join('\n'),
    );
  });
});

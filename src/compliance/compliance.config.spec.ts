import { afterEach, describe, expect, it } from '@jest/globals';
import { complianceConfig } from './compliance.config.js';

const A = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const B = '1b2c3d4e5f60718293a4b5c6d7e8f90a';

describe('complianceConfig', () => {
  const names = ['COMPLIANCE_PROJECTS', 'COMPLIANCE_INTERVAL_MINUTES'] as const;
  const saved = names.map((name) => process.env[name]);

  afterEach(() => {
    names.forEach((name, i) => {
      if (saved[i] === undefined) delete process.env[name];
      else process.env[name] = saved[i];
    });
  });

  it('refreshes no project, hourly, unless told otherwise', () => {
    names.forEach((name) => delete process.env[name]);
    expect(complianceConfig()).toEqual({ projects: [], intervalMinutes: 60 });
  });

  it('reads a comma-separated list of project ids, spaces and repeats allowed', () => {
    process.env.COMPLIANCE_PROJECTS = ` ${A} ,${B}, ${A}`;
    process.env.COMPLIANCE_INTERVAL_MINUTES = '15';
    expect(complianceConfig()).toEqual({ projects: [A, B], intervalMinutes: 15 });
  });

  it.each([`${A},`, `${A};${B}`, 'project', `${A},../x`, ','])(
    'refuses COMPLIANCE_PROJECTS=%j, naming it and the rule',
    (value) => {
      process.env.COMPLIANCE_PROJECTS = value;
      expect(() => complianceConfig()).toThrow(
        'COMPLIANCE_PROJECTS: must be a comma-separated list of project ids, each must be exactly 32 letters or digits',
      );
    },
  );

  it.each(['0', '10081', '1.5', 'hourly'])('refuses COMPLIANCE_INTERVAL_MINUTES=%j', (value) => {
    delete process.env.COMPLIANCE_PROJECTS;
    process.env.COMPLIANCE_INTERVAL_MINUTES = value;
    expect(() => complianceConfig()).toThrow(/COMPLIANCE_INTERVAL_MINUTES/);
  });
});

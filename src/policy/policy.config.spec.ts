import { resolve } from 'node:path';
import { policyConfig } from './policy.config.js';

describe('policyConfig', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('defaults to the bundled example outside production', () => {
    delete process.env.POLICY_FILE;
    process.env.NODE_ENV = 'development';
    expect(policyConfig()).toEqual({ file: resolve(process.cwd(), 'config/policy.example.yaml') });
  });

  it('resolves a relative POLICY_FILE from the working directory and keeps an absolute one', () => {
    process.env.POLICY_FILE = 'etc/policy.json';
    expect(policyConfig().file).toBe(resolve(process.cwd(), 'etc/policy.json'));
    process.env.POLICY_FILE = '/etc/gateway/policy.yaml';
    expect(policyConfig().file).toBe('/etc/gateway/policy.yaml');
  });

  it('requires POLICY_FILE in production', () => {
    delete process.env.POLICY_FILE;
    process.env.NODE_ENV = 'production';
    expect(() => policyConfig()).toThrow(/POLICY_FILE: required when NODE_ENV=production/);
    process.env.POLICY_FILE = '/etc/gateway/policy.yaml';
    expect(policyConfig().file).toBe('/etc/gateway/policy.yaml');
  });
});

import { afterEach, describe, expect, it } from '@jest/globals';
import { hasServiceIdentity, iamConfig } from './iam.config.js';

const IAM_VARIABLES = [
  'IAM_ENDPOINT',
  'IAM_TOKEN_MODE',
  'IAM_IDP_ID',
  'IAM_DOMAIN_NAME',
  'IAM_USER_NAME',
  'IAM_PASSWORD',
  'IAM_AGENCY_DOMAIN',
  'IAM_AGENCY_NAME',
];
const saved = Object.fromEntries(IAM_VARIABLES.map((name) => [name, process.env[name]]));

function withEnv(values: Record<string, string>) {
  for (const name of IAM_VARIABLES) {
    delete process.env[name];
  }
  Object.assign(process.env, values);
  return iamConfig();
}

const serviceAccountEnv = {
  IAM_ENDPOINT: 'https://iam.myhuaweicloud.com/',
  IAM_DOMAIN_NAME: 'acme',
  IAM_USER_NAME: 'gateway',
  IAM_PASSWORD: 'hunter2-secret',
};

describe('iamConfig', () => {
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('defaults to oidc mode and needs the identity provider id there', () => {
    expect(withEnv({ IAM_ENDPOINT: 'http://127.0.0.1:9000', IAM_IDP_ID: 'corp' })).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      mode: 'oidc',
      idpId: 'corp',
    });
    expect(() => withEnv({ IAM_ENDPOINT: 'http://127.0.0.1:9000' })).toThrow(
      'IAM_IDP_ID is required when IAM_TOKEN_MODE is oidc',
    );
  });

  it('requires IAM_ENDPOINT to be a URL', () => {
    expect(() => withEnv({ IAM_IDP_ID: 'corp' })).toThrow('IAM_ENDPOINT');
    expect(() => withEnv({ IAM_ENDPOINT: 'not a url', IAM_IDP_ID: 'corp' })).toThrow(
      'IAM_ENDPOINT',
    );
  });

  it('rejects an unknown mode', () => {
    expect(() => withEnv({ ...serviceAccountEnv, IAM_TOKEN_MODE: 'saml' })).toThrow(
      'IAM_TOKEN_MODE',
    );
  });

  it('reads the service account in password mode and never prints its password', () => {
    const config = withEnv({ ...serviceAccountEnv, IAM_TOKEN_MODE: 'password' });
    expect(config.mode).toBe('password');
    if (config.mode !== 'password') return;
    expect(config.endpoint).toBe('https://iam.myhuaweicloud.com');
    expect(config.serviceAccount.password()).toBe('hunter2-secret');
    expect(JSON.stringify(config)).not.toContain('hunter2-secret');
    expect(() =>
      withEnv({ ...serviceAccountEnv, IAM_TOKEN_MODE: 'password', IAM_PASSWORD: '' }),
    ).toThrow('IAM_PASSWORD is required when IAM_TOKEN_MODE is password');
  });

  it('needs the agency in agency mode', () => {
    expect(() => withEnv({ ...serviceAccountEnv, IAM_TOKEN_MODE: 'agency' })).toThrow(
      /IAM_AGENCY_DOMAIN is required when IAM_TOKEN_MODE is agency[\s\S]*IAM_AGENCY_NAME is required when IAM_TOKEN_MODE is agency/,
    );
    const config = withEnv({
      ...serviceAccountEnv,
      IAM_TOKEN_MODE: 'agency',
      IAM_AGENCY_DOMAIN: 'tenant',
      IAM_AGENCY_NAME: 'vault-lock',
    });
    expect(config.mode === 'agency' && config.agency).toEqual({
      domainName: 'tenant',
      agencyName: 'vault-lock',
    });
  });

  it('takes an optional service account in oidc mode, all of it or none', () => {
    const oidc = { IAM_ENDPOINT: 'http://127.0.0.1:9000', IAM_IDP_ID: 'corp' };
    const config = withEnv({ ...serviceAccountEnv, ...oidc });
    expect(config.mode === 'oidc' && config.serviceAccount?.toJSON()).toEqual({
      domainName: 'acme',
      userName: 'gateway',
    });
    expect(JSON.stringify(config)).not.toContain('hunter2-secret');
    expect(withEnv(oidc)).not.toHaveProperty('serviceAccount');
    expect(() => withEnv({ ...oidc, IAM_USER_NAME: 'gateway' })).toThrow(
      /IAM_DOMAIN_NAME is required when any of IAM_DOMAIN_NAME, IAM_USER_NAME, IAM_PASSWORD is set[\s\S]*IAM_PASSWORD is required when any of/,
    );
  });

  it('tells whether the gateway has a service identity for background work', () => {
    const oidc = { IAM_ENDPOINT: 'http://127.0.0.1:9000', IAM_IDP_ID: 'corp' };
    expect(hasServiceIdentity(withEnv(oidc))).toBe(false);
    expect(hasServiceIdentity(withEnv({ ...oidc, ...serviceAccountEnv }))).toBe(true);
    expect(hasServiceIdentity(withEnv({ ...serviceAccountEnv, IAM_TOKEN_MODE: 'password' }))).toBe(
      true,
    );
  });
});

import { registerAs } from '@nestjs/config';
import {
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsUrl,
  ValidateIf,
  type ValidationArguments,
} from 'class-validator';
import { requireHttpsInProduction } from '../../config/https-in-production.js';
import { validateEnv } from '../../config/validate-env.js';

export const IAM_TOKEN_MODES = ['oidc', 'password', 'agency'] as const;
export type IamTokenMode = (typeof IAM_TOKEN_MODES)[number];

const modeOf = (env: IamEnv): IamTokenMode => env.IAM_TOKEN_MODE ?? 'oidc';

const requiredIn =
  (...modes: IamTokenMode[]) =>
  (env: IamEnv): boolean =>
    modes.includes(modeOf(env));

/** The service account's variables: required in password and agency modes, optional in oidc. */
export const SERVICE_ACCOUNT_VARIABLES = [
  'IAM_DOMAIN_NAME',
  'IAM_USER_NAME',
  'IAM_PASSWORD',
] as const;

const givesServiceAccount = (env: IamEnv): boolean =>
  SERVICE_ACCOUNT_VARIABLES.some((name) => env[name] !== undefined);

const missingFor = ({ property, object }: ValidationArguments): string =>
  `${property} is required when IAM_TOKEN_MODE is ${modeOf(object as IamEnv)}`;

/** In oidc mode the service account is all or nothing: half of one is a typo, not a choice. */
const missingServiceAccountPart = (args: ValidationArguments): string =>
  modeOf(args.object as IamEnv) === 'oidc'
    ? `${args.property} is required when any of ${SERVICE_ACCOUNT_VARIABLES.join(', ')} is set`
    : missingFor(args);

const serviceAccountRequired = (env: IamEnv): boolean =>
  requiredIn('password', 'agency')(env) || givesServiceAccount(env);

class IamEnv {
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  IAM_ENDPOINT!: string;

  @IsOptional() @IsIn(IAM_TOKEN_MODES) IAM_TOKEN_MODE?: IamTokenMode;

  @ValidateIf(requiredIn('oidc')) @IsNotEmpty({ message: missingFor }) IAM_IDP_ID?: string;

  @ValidateIf(serviceAccountRequired)
  @IsNotEmpty({ message: missingServiceAccountPart })
  IAM_DOMAIN_NAME?: string;

  @ValidateIf(serviceAccountRequired)
  @IsNotEmpty({ message: missingServiceAccountPart })
  IAM_USER_NAME?: string;

  @ValidateIf(serviceAccountRequired)
  @IsNotEmpty({ message: missingServiceAccountPart })
  IAM_PASSWORD?: string;

  @ValidateIf(requiredIn('agency')) @IsNotEmpty({ message: missingFor }) IAM_AGENCY_DOMAIN?: string;

  @ValidateIf(requiredIn('agency')) @IsNotEmpty({ message: missingFor }) IAM_AGENCY_NAME?: string;
}

/**
 * The IAM user the gateway logs in as in password and agency modes. The password sits in a
 * private field so that printing or serialising the configuration can never show it.
 */
export class ServiceAccount {
  readonly #password: string;

  constructor(
    readonly domainName: string,
    readonly userName: string,
    password: string,
  ) {
    this.#password = password;
  }

  password(): string {
    return this.#password;
  }

  toJSON(): { domainName: string; userName: string } {
    return { domainName: this.domainName, userName: this.userName };
  }
}

export interface Agency {
  domainName: string;
  agencyName: string;
}

export type IamConfig =
  | {
      endpoint: string;
      mode: 'oidc';
      idpId: string;
      /** Optional here: the identity of background work, whose callers' tokens have expired. */
      serviceAccount?: ServiceAccount;
    }
  | { endpoint: string; mode: 'password'; serviceAccount: ServiceAccount }
  | { endpoint: string; mode: 'agency'; serviceAccount: ServiceAccount; agency: Agency };

export const iamConfig = registerAs('iam', (): IamConfig => {
  const env = validateEnv(process.env, IamEnv);
  requireHttpsInProduction('IAM_ENDPOINT', env.IAM_ENDPOINT);
  const endpoint = env.IAM_ENDPOINT.replace(/\/+$/, '');
  const mode = modeOf(env);
  // Validated as given in password and agency modes, and in oidc mode when any part is set.
  const serviceAccount = new ServiceAccount(
    env.IAM_DOMAIN_NAME!,
    env.IAM_USER_NAME!,
    env.IAM_PASSWORD!,
  );
  if (mode === 'oidc') {
    const idpId = env.IAM_IDP_ID!;
    return givesServiceAccount(env)
      ? { endpoint, mode, idpId, serviceAccount }
      : { endpoint, mode, idpId };
  }
  if (mode === 'password') {
    return { endpoint, mode, serviceAccount };
  }
  return {
    endpoint,
    mode,
    serviceAccount,
    agency: { domainName: env.IAM_AGENCY_DOMAIN!, agencyName: env.IAM_AGENCY_NAME! },
  };
});

/**
 * Whether the gateway has an identity of its own for work no caller is waiting on: in password
 * and agency modes every call already uses it; in oidc mode only with a service account.
 */
export const hasServiceIdentity = (config: IamConfig): boolean =>
  config.mode !== 'oidc' || config.serviceAccount !== undefined;

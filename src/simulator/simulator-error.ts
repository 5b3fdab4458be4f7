import type { SimulatedService } from './route-names.js';

/**
 * An error answer in the shape Huawei's services use: `{"error_code","error_msg"}`. Handlers
 * throw it; the simulator's error handler turns it into the response.
 */
export class SimulatorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SimulatorError';
  }
}

/**
 * TaurusDB codes. `DBS.200001` (parameter error) and `DBS.200019` (operation in progress) are
 * documented by Huawei; the others are the simulator's choice where the reference names none.
 */
export const DbsCode = {
  PARAMETER: 'DBS.200001',
  OPERATION_IN_PROGRESS: 'DBS.200019',
  TOKEN_INVALID: 'DBS.280004',
  FORBIDDEN: 'DBS.280005',
  INSTANCE_NOT_FOUND: 'DBS.200823',
  REGION_MISMATCH: 'DBS.280238',
  LOCK_ALREADY_ENABLED: 'DBS.280351',
  LOCK_NOT_ENABLED: 'DBS.280352',
  SERVER: 'DBS.200412',
} as const;

/** IAM's `error_code` values, as its v3.0 APIs answer them. */
export const IamCode = {
  BAD_REQUEST: 'IAM.0001',
  FORBIDDEN: 'IAM.0002',
  UNAUTHORIZED: 'IAM.0003',
  NOT_FOUND: 'IAM.0004',
  SERVER: 'IAM.0006',
} as const;

export const IdpCode = {
  BAD_REQUEST: 'IDP.0001',
  SERVER: 'IDP.0006',
} as const;

/** The simulator's own admin API and its unexpected failures. */
export const SimCode = {
  BAD_REQUEST: 'SIM.BAD_REQUEST',
  INTERNAL: 'SIM.INTERNAL',
} as const;

/** Huawei's API gateway answers an unknown path itself, with this code, for every service. */
export const NO_SUCH_API = {
  code: 'APIGW.0101',
  message: 'The API does not exist or has not been published in the environment.',
} as const;

/** Huawei's API gateway answers throttled calls itself, with this code, for every service. */
export const THROTTLED_CODE = 'APIGW.0308';

const codesByStatus: Record<SimulatedService, Record<number, string>> = {
  taurusdb: {
    400: DbsCode.PARAMETER,
    401: DbsCode.TOKEN_INVALID,
    403: DbsCode.FORBIDDEN,
    404: DbsCode.INSTANCE_NOT_FOUND,
    409: DbsCode.OPERATION_IN_PROGRESS,
  },
  iam: {
    400: IamCode.BAD_REQUEST,
    401: IamCode.UNAUTHORIZED,
    403: IamCode.FORBIDDEN,
    404: IamCode.NOT_FOUND,
  },
  idp: { 400: IdpCode.BAD_REQUEST },
};

const serverCodes: Record<SimulatedService, string> = {
  taurusdb: DbsCode.SERVER,
  iam: IamCode.SERVER,
  idp: IdpCode.SERVER,
};

/** The code a service would most plausibly send with `status`, for injected faults. */
export function errorCodeFor(service: SimulatedService, status: number): string {
  if (status === 429) return THROTTLED_CODE;
  return codesByStatus[service][status] ?? serverCodes[service];
}

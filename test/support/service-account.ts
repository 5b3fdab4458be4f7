import { SERVICE_ACCOUNT } from '../../src/simulator/iam.js';

/**
 * The simulator's service account as the gateway's environment. In oidc mode it is the service
 * identity that the example policy's four-eyes rule needs: without one, a policy with approval
 * or a cooling-off is refused at start.
 */
export const SERVICE_ACCOUNT_ENV = {
  IAM_DOMAIN_NAME: SERVICE_ACCOUNT.domainName,
  IAM_USER_NAME: SERVICE_ACCOUNT.userName,
  IAM_PASSWORD: SERVICE_ACCOUNT.password,
};

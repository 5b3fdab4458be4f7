import { startReferenceProxy } from './reference-proxy.js';

/** The reference proxy as its own process, configured from the gateway's variables. */
const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const proxy = await startReferenceProxy({
  taurusDbEndpoint: required('TAURUSDB_ENDPOINT'),
  iamEndpoint: required('IAM_ENDPOINT'),
  idpId: required('IAM_IDP_ID'),
  jwksUrl: required('AUTH_JWKS_URL'),
  issuer: required('AUTH_ISSUER'),
  audience: required('AUTH_AUDIENCE'),
});
// The parent learns the address over IPC, so no port has to be agreed on in advance.
process.send?.({ url: proxy.url });
process.once('SIGTERM', () => void proxy.close());

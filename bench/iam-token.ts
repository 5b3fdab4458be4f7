import { request, type Dispatcher } from 'undici';

export interface IamToken {
  value: string;
  /** From `token.project.name`, up to the first `_` (DESIGN §1). */
  region: string;
}

export interface OidcExchange {
  iamEndpoint: string;
  idpId: string;
  /** The caller's internal JWT. */
  idToken: string;
  projectId: string;
  dispatcher?: Dispatcher;
}

/** Swaps an internal OIDC token for an IAM token scoped to one project (OIDC federation). */
export async function exchangeOidcToken(exchange: OidcExchange): Promise<IamToken> {
  const response = await request(`${exchange.iamEndpoint}/v3.0/OS-AUTH/id-token/tokens`, {
    method: 'POST',
    dispatcher: exchange.dispatcher,
    headers: { 'content-type': 'application/json', 'x-idp-id': exchange.idpId },
    body: JSON.stringify({
      auth: {
        id_token: { id: exchange.idToken },
        scope: { project: { id: exchange.projectId } },
      },
    }),
  });
  const body = (await response.body.json()) as { token?: { project?: { name?: string } } };
  const value = response.headers['x-subject-token'];
  const projectName = body.token?.project?.name;
  if (response.statusCode !== 201 || typeof value !== 'string' || projectName === undefined) {
    throw new Error(
      `IAM refused the token exchange for project ${exchange.projectId}: ${response.statusCode}`,
    );
  }
  return { value, region: projectName.split('_')[0] };
}

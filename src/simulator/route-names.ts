/**
 * The simulator's routes, by the name that fault injection and call counting use. Two names can
 * share one URL (`iam.password` and `iam.assumeRole` are both `POST /v3/auth/tokens`).
 */
export const ROUTE_NAMES = [
  'idp.jwks',
  'idp.mint',
  'iam.oidc',
  'iam.password',
  'iam.assumeRole',
  'iam.validate',
  'taurusdb.putLock',
  'taurusdb.getLock',
  'taurusdb.instance',
  'taurusdb.tags',
  'taurusdb.listInstances',
] as const;

export type RouteName = (typeof ROUTE_NAMES)[number];

export type SimulatedService = 'idp' | 'iam' | 'taurusdb';

export const isRouteName = (value: unknown): value is RouteName =>
  (ROUTE_NAMES as readonly unknown[]).includes(value);

export const serviceOf = (route: RouteName): SimulatedService =>
  route.slice(0, route.indexOf('.')) as SimulatedService;

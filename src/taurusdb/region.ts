/**
 * Huawei Cloud region names (`cn-north-4`, `ap-southeast-1`, `af-south-1`). A region ends up in
 * an upstream host name, so anything else is refused before a URL is built from it.
 */
export const REGION_PATTERN = /^[a-z]{2,}(-[a-z0-9]+)+$/;

export const isRegion = (value: unknown): value is string =>
  typeof value === 'string' && REGION_PATTERN.test(value);

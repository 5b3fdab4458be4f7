/** A PostgreSQL URL's server and database, for logs: never its user, password or parameters. */
export function databaseLocation(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  const host = url.host || (url.searchParams.get('host') ?? 'localhost');
  return `postgresql://${host}${url.pathname}`;
}

/**
 * The verified caller. The raw internal JWT is kept in a private field so that logging or
 * serialising a Principal can never print it; only the IAM OIDC exchange reads it.
 */
export class Principal {
  readonly #rawToken: string;

  constructor(
    readonly issuer: string,
    readonly subject: string,
    readonly groups: readonly string[],
    rawToken: string,
  ) {
    this.#rawToken = rawToken;
  }

  /** Stable key for caches and audit rows: `iss` + `sub`. */
  get id(): string {
    return principalId(this.issuer, this.subject);
  }

  inGroup(group: string): boolean {
    return this.groups.includes(group);
  }

  rawToken(): string {
    return this.#rawToken;
  }

  toJSON(): { issuer: string; subject: string; groups: readonly string[] } {
    return { issuer: this.issuer, subject: this.subject, groups: this.groups };
  }
}

/** One principal as one string, `iss#sub`, where issuer and subject are kept apart elsewhere. */
export function principalId(issuer: string, subject: string): string {
  return `${issuer}#${subject}`;
}

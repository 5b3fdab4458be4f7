/** A token this close to expiry is not handed out: the upstream call could outlive it. */
const EXPIRY_MARGIN_MS = 60_000;
/** A successor is fetched once less than max(5 min, 10% of the lifetime) is left. */
const REFRESH_AHEAD_MIN_MS = 5 * 60_000;
const REFRESH_AHEAD_SHARE = 0.1;

/**
 * An IAM token scoped to one project, hence to one region. The secret sits in a private field
 * and is left out of `toJSON` and `toString`, so logging or serialising a token never prints it.
 */
export class IamToken {
  readonly #value: string;
  /** `token.project.name` is `<region>` or, for a sub-project, `<region>_<name>`. */
  readonly region: string;

  constructor(
    value: string,
    readonly projectId: string,
    readonly projectName: string,
    readonly issuedAt: Date,
    readonly expiresAt: Date,
  ) {
    this.#value = value;
    this.region = projectName.split('_')[0];
  }

  /** The `X-Auth-Token` to send. */
  value(): string {
    return this.#value;
  }

  /** True while enough time is left to send it. */
  isUsableAt(nowMs: number): boolean {
    return this.expiresAt.getTime() - nowMs > EXPIRY_MARGIN_MS;
  }

  /** True once it is old enough for its successor to be fetched. */
  isDueForRefreshAt(nowMs: number): boolean {
    const lifetimeMs = this.expiresAt.getTime() - this.issuedAt.getTime();
    const aheadMs = Math.max(REFRESH_AHEAD_MIN_MS, lifetimeMs * REFRESH_AHEAD_SHARE);
    return this.expiresAt.getTime() - nowMs < aheadMs;
  }

  /** Same secret: the way to tell whether a cache still holds this very token. */
  sameAs(other: IamToken): boolean {
    return this.#value === other.#value;
  }

  toJSON(): Record<string, unknown> {
    return {
      projectId: this.projectId,
      projectName: this.projectName,
      region: this.region,
      issuedAt: this.issuedAt.toISOString(),
      expiresAt: this.expiresAt.toISOString(),
    };
  }

  toString(): string {
    return `IAM token for project ${this.projectId} (expires ${this.expiresAt.toISOString()})`;
  }
}

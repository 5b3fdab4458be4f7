/**
 * Whether a suite's outside service (Redis, PostgreSQL) answers. Outside CI an unreachable
 * service skips the suite with a loud message, so a laptop without it can still run the rest;
 * with `CI=true` it is a failure, so CI never passes by skipping.
 *
 * Usage at the top of a suite file: `const describeWith = (await requireService(...)) ?
 * describe : describe.skip;`
 */
export async function requireService(
  name: string,
  where: string,
  probe: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const message = `${name} at ${where} is unreachable (${reason})`;
    if (process.env.CI === 'true') {
      throw new Error(`${message}: CI needs it, so this suite fails instead of skipping`);
    }
    const line = '!'.repeat(78);
    process.stderr.write(
      `\n${line}\n!! SKIPPED: ${message}.\n!! Start it to run this suite; with CI=true this is a failure.\n${line}\n`,
    );
    return false;
  }
}

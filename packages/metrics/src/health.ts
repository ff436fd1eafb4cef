/** The answer of one health or readiness check. */
export interface HealthStatus {
  readonly ok: boolean;
  /** Why the check fails, shown in the 503 body, e.g. `database unreachable`. */
  readonly reason?: string;
}

/** A named probe run on each `/health` or `/ready` request. A throw counts as a failure. */
export type HealthCheck = () => HealthStatus | boolean | Promise<HealthStatus | boolean>;

/** The result of running a set of checks: every failing check with its reason. */
export interface HealthReport {
  readonly ok: boolean;
  readonly failures: readonly string[];
}

/**
 * Runs every check concurrently; one that throws or takes longer than
 * `timeoutMs` fails with that as its reason.
 */
export async function runChecks(
  checks: Readonly<Record<string, HealthCheck>>,
  timeoutMs: number,
): Promise<HealthReport> {
  const entries = Object.entries(checks);
  const failures = await Promise.all(
    entries.map(async ([name, check]) => {
      const status = await withTimeout(check, timeoutMs);
      return status.ok ? undefined : `${name}: ${status.reason ?? 'failing'}`;
    }),
  );
  const failing = failures.filter((f): f is string => f !== undefined);
  return { ok: failing.length === 0, failures: failing };
}

async function withTimeout(check: HealthCheck, timeoutMs: number): Promise<HealthStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthStatus>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    const answer = await Promise.race([Promise.resolve().then(check), timeout]);
    return typeof answer === 'boolean' ? { ok: answer } : answer;
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * HTTP for every outside service astro-trust calls (the Astro API, Slack, an astro-trust webhook): one
 * fetch with a timeout, one reading of `Retry-After`, one rule for what is worth retrying.
 */

/** No answer: a refused or dropped connection, or nothing within the timeout. */
export class NoAnswerError extends Error {
  override name = 'NoAnswerError';
}

/** One request with a deadline; a failure to get any answer is a `NoAnswerError` that says which. */
export async function request(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message;
    throw new NoAnswerError(reason, { cause: err });
  }
}

/** 429 and 5xx may pass; any other status will not change by retrying. */
export function retryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** The delay a `Retry-After` header asks for (seconds or an HTTP date), capped; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, capMs: number, now: () => number = Date.now): number | undefined {
  if (!header) return undefined;
  if (/^\s*-?\d+(\.\d+)?\s*$/.test(header)) {
    const seconds = Number(header);
    return seconds >= 0 ? Math.min(seconds * 1000, capMs) : undefined;
  }
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.min(at - now(), capMs));
}

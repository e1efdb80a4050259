/**
 * fetch() for the CLI's HTTP commands (peers, schema). Node's fetch
 * rejects an unreachable node with only "fetch failed" and hides the
 * reason in `cause`: name the URL and the cause (ECONNREFUSED, ENOTFOUND, ...).
 */
export async function fetchNode(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as Error).cause as (Error & { code?: string }) | undefined;
    const why =
      cause === undefined
        ? (err as Error).message
        : cause.code !== undefined && !cause.message.includes(cause.code)
          ? `${cause.code}: ${cause.message}`
          : cause.message;
    throw new Error(`cannot reach the node at ${url}: ${why}`, { cause: err });
  }
}

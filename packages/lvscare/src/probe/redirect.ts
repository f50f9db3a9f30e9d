/**
 * Where a probe goes after a 3xx answer, by the HTTP rules a client follows (RFC 9110 15.4):
 * 303 turns the request into a GET without a body, 301/302 do so for a POST (as browsers, Go and
 * undici do), 307/308 repeat it as it was. Credentials are not carried to another origin.
 */
export interface ProbeTarget {
  readonly url: URL;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const CROSS_ORIGIN_DROPPED = new Set(["authorization", "cookie", "proxy-authorization"]);
const BODY_HEADERS = /^content-/;

/** The next request, or undefined when the answer is not a redirect to follow. */
export function redirectTarget(current: ProbeTarget, status: number, location: string | undefined): ProbeTarget | undefined {
  if (!REDIRECT_STATUS.has(status) || location === undefined || location === "") return undefined;
  let url: URL;
  try {
    url = new URL(location, current.url);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  const becomesGet = (status === 303 && current.method !== "HEAD") || ((status === 301 || status === 302) && current.method === "POST");
  const crossOrigin = url.origin !== current.url.origin;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(current.headers)) {
    const lower = name.toLowerCase();
    if (lower === "host") continue;
    if (crossOrigin && CROSS_ORIGIN_DROPPED.has(lower)) continue;
    if (becomesGet && BODY_HEADERS.test(lower)) continue;
    headers[name] = value;
  }
  return { url, method: becomesGet ? "GET" : current.method, headers, body: becomesGet ? undefined : current.body };
}

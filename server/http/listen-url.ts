/**
 * The URL to print when the server starts listening: one a browser on this machine can open.
 * A wildcard address (0.0.0.0, ::) accepts connections on every interface but is not an address to
 * connect to, so it is shown as localhost; an IPv6 literal is bracketed.
 */
export function listenUrl(host: string, port: number): string {
  const wildcard = host === "" || host === "0.0.0.0" || host === "::" || host === "[::]" || host === "::0";
  const shown = wildcard ? "localhost" : host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

import dns from "node:dns";
import net from "node:net";

/** Resolves a host name to every address it has (dns.lookup by default; a fake in tests). */
export type LookupFn = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** Where webhooks may connect: link-local and cloud metadata addresses are refused unless allowed. */
export type WebhookNetwork = {
  /** SQLGUARD_WEBHOOK_ALLOW_LINK_LOCAL: let webhooks reach the ranges below after all. */
  allowLinkLocal?: boolean;
  lookup?: LookupFn;
};

export const systemLookup: LookupFn = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/**
 * Link-local ranges, where cloud instance metadata (credentials) lives: 169.254.0.0/16 (AWS, GCP,
 * Azure, OpenStack 169.254.169.254), fe80::/10, and AWS's IPv6 endpoint fd00:ec2::254. IPv4-mapped
 * IPv6 forms (::ffff:169.254.169.254) match the IPv4 rule. Private and loopback ranges stay
 * allowed: a self-hosted receiver on the same network is a normal setup.
 */
const LINK_LOCAL = new net.BlockList();
LINK_LOCAL.addSubnet("169.254.0.0", 16, "ipv4");
LINK_LOCAL.addSubnet("fe80::", 10, "ipv6");
LINK_LOCAL.addAddress("fd00:ec2::254", "ipv6");

/** Thrown (as a connection error) when a webhook's host resolves to a refused address. */
export class BlockedAddressError extends Error {
  readonly code = "EADDRBLOCKED";
  constructor(host: string, address: string) {
    super(
      host === address
        ? `${address} is a link-local or cloud metadata address (set SQLGUARD_WEBHOOK_ALLOW_LINK_LOCAL=true to allow it)`
        : `${host} resolves to ${address}, a link-local or cloud metadata address (set SQLGUARD_WEBHOOK_ALLOW_LINK_LOCAL=true to allow it)`,
    );
    this.name = "BlockedAddressError";
  }
}

/** Whether an IP address is link-local or a cloud metadata address. */
export function isBlockedAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  return LINK_LOCAL.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** The host of a URL as an address or name (IPv6 literals without their brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/**
 * Checks a webhook URL when it is saved: an address literal in the refused ranges, or a name that
 * resolves there. A name that does not resolve now (DNS down, a receiver not deployed yet) passes:
 * every delivery checks again after resolving. Returns the problem, or null.
 */
export async function webhookUrlProblem(url: string, network: WebhookNetwork = {}, timeoutMs = 3_000): Promise<string | null> {
  if (network.allowLinkLocal) return null;
  const host = hostOf(new URL(url));
  if (net.isIP(host)) return isBlockedAddress(host) ? new BlockedAddressError(host, host).message : null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const addresses = await Promise.race([
      (network.lookup ?? systemLookup)(host),
      new Promise<[]>((resolve) => {
        timer = setTimeout(() => resolve([]), timeoutMs);
      }),
    ]);
    const blocked = addresses.find((a) => isBlockedAddress(a.address));
    return blocked ? new BlockedAddressError(host, blocked.address).message : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A `lookup` for http(s).request that refuses a name resolving to a refused address. The connection
 * then uses exactly the addresses checked here, so a name cannot pass the check and connect
 * elsewhere (DNS rebinding). Address literals never reach a lookup: check them with isBlockedAddress.
 */
export function guardedLookup(network: WebhookNetwork = {}): net.LookupFunction {
  const lookup = network.lookup ?? systemLookup;
  return (hostname, options, callback) => {
    lookup(hostname).then(
      (all) => {
        const family = typeof options === "object" ? options.family : undefined;
        const wanted = all.filter((a) => !family || family === 0 || a.family === family);
        const blocked = network.allowLinkLocal ? undefined : wanted.find((a) => isBlockedAddress(a.address));
        if (blocked) return callback(new BlockedAddressError(hostname, blocked.address) as NodeJS.ErrnoException, "", 0);
        if (wanted.length === 0) {
          return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }) as NodeJS.ErrnoException, "", 0);
        }
        if (typeof options === "object" && options.all) return (callback as unknown as (e: null, a: typeof wanted) => void)(null, wanted);
        return callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
}

/**
 * Which network addresses outgoing requests may reach. Everything that is not globally
 * routable unicast is refused by default: loopback, RFC 1918, link-local (cloud metadata at
 * 169.254.169.254), CGNAT, IPv6 unique-local, unspecified, multicast, broadcast, reserved,
 * and IPv6 forms that embed such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
 * An allow list (host names, IPs, CIDR ranges) opens specific internal targets.
 */
import ipaddr from "ipaddr.js";

type IP = ReturnType<typeof ipaddr.parse>;
type IPv4 = InstanceType<typeof ipaddr.IPv4>;

/** The name of the setting the server exposes; named in refusal messages so operators know where to look. */
export const ALLOW_LIST_SETTING = "TRIBUTARY_HTTP_ALLOW_LIST";

const V4_REASONS: Record<string, string> = {
  loopback: "a loopback address",
  private: "a private network address (RFC 1918)",
  linkLocal: "a link-local address (this range holds cloud metadata services such as 169.254.169.254)",
  carrierGradeNat: "a carrier-grade NAT address (100.64.0.0/10)",
  unspecified: "an unspecified address (0.0.0.0/8)",
  multicast: "a multicast address",
  broadcast: "the broadcast address",
  reserved: "a reserved address",
  benchmarking: "a benchmarking address (198.18.0.0/15)",
};

const V6_REASONS: Record<string, string> = {
  loopback: "the IPv6 loopback address",
  uniqueLocal: "a unique-local IPv6 address (fc00::/7)",
  linkLocal: "a link-local IPv6 address (fe80::/10)",
  unspecified: "the unspecified IPv6 address",
  multicast: "a multicast IPv6 address",
  reserved: "a reserved IPv6 address",
  teredo: "a Teredo tunnel address",
  discard: "a discard-only IPv6 address",
  deprecatedSiteLocal: "a site-local IPv6 address",
};

/** Ranges `allowPrivateNetwork` opens: private networks, never loopback or link-local. */
const PRIVATE_NETWORK_RANGES = new Set(["private", "carrierGradeNat", "uniqueLocal"]);

interface Verdict {
  /** ipaddr.js range name (of the embedded IPv4 address when there is one). */
  range: string;
  reason: string;
  /** The IPv4 address an IPv6 form embeds, when that is what was refused. */
  embedded: string | null;
}

function v4FromParts(hi: number, lo: number): IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/** The IPv4 address an IPv6 address carries, for the forms a host may route to it. */
function embeddedV4(ip: InstanceType<typeof ipaddr.IPv6>): IPv4 | null {
  const p = ip.parts;
  const range = ip.range();
  if (range === "ipv4Mapped" || range === "rfc6145" || range === "rfc6052") return v4FromParts(p[6] ?? 0, p[7] ?? 0);
  if (range === "6to4") return v4FromParts(p[1] ?? 0, p[2] ?? 0);
  // IPv4-compatible (::a.b.c.d, deprecated): the first 96 bits are zero.
  if (p.slice(0, 6).every((x) => x === 0) && !(range === "loopback" || range === "unspecified")) {
    return v4FromParts(p[6] ?? 0, p[7] ?? 0);
  }
  return null;
}

function judgeV4(ip: IPv4): Verdict | null {
  const range = ip.range();
  if (range === "unicast") return null;
  return { range, reason: V4_REASONS[range] ?? `a special-purpose address (${range})`, embedded: null };
}

/** null when the address is public unicast; otherwise why it is refused. */
export function judgeAddress(ip: IP): Verdict | null {
  if (ip.kind() === "ipv4") return judgeV4(ip as IPv4);
  const v6 = ip as InstanceType<typeof ipaddr.IPv6>;
  const v4 = embeddedV4(v6);
  if (v4) {
    const inner = judgeV4(v4);
    return inner ? { ...inner, reason: `${inner.reason}, embedded in an IPv6 address`, embedded: v4.toString() } : null;
  }
  const range = v6.range();
  if (range === "unicast") return null;
  return { range, reason: V6_REASONS[range] ?? `a special-purpose IPv6 address (${range})`, embedded: null };
}

export function parseIp(text: string): IP | null {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(bare)) return null;
  try {
    return ipaddr.parse(bare);
  } catch {
    return null;
  }
}

export interface AddressPolicyOptions {
  /** Host names (`api.internal`, `*.corp.example`), IP addresses or CIDR ranges that are allowed even if internal. */
  allowList?: readonly string[];
  /** Also allow private networks (RFC 1918, CGNAT, fc00::/7). Loopback and link-local still need the allow list. */
  allowPrivateNetwork?: boolean;
}

export interface AddressPolicy {
  /** Whether a host name is on the allow list (then any address it resolves to is allowed). */
  hostAllowed(hostname: string): boolean;
  /** null when a connection to `address` is allowed; otherwise the refusal message. */
  refusal(address: string, hostname: string | null): string | null;
}

function normalizeHost(h: string): string {
  return h
    .trim()
    .toLowerCase()
    .replace(/\.$/, "")
    .replace(/^\[(.*)\]$/, "$1");
}

export function createAddressPolicy(options: AddressPolicyOptions = {}): AddressPolicy {
  const hosts = new Set<string>();
  const suffixes: string[] = [];
  const ranges: Array<[IP, number]> = [];
  for (const raw of options.allowList ?? []) {
    const entry = normalizeHost(raw);
    if (entry === "") continue;
    if (ipaddr.isValidCIDR(entry)) ranges.push(ipaddr.parseCIDR(entry));
    else if (parseIp(entry)) {
      const ip = parseIp(entry) as IP;
      ranges.push([ip, ip.kind() === "ipv4" ? 32 : 128]);
    } else if (/^\*\.[a-z0-9_.-]+$/.test(entry)) suffixes.push(entry.slice(1));
    else if (/^[a-z0-9_.-]+$/.test(entry)) hosts.add(entry);
    else {
      throw new Error(`${ALLOW_LIST_SETTING}: "${raw}" is not a host name, an IP address or a CIDR range.`);
    }
  }

  const inRanges = (ip: IP): boolean =>
    ranges.some(([net, bits]) => {
      if (net.kind() === ip.kind()) return ip.match(net, bits);
      // An IPv4 entry also covers the IPv6 forms that embed it.
      if (ip.kind() === "ipv6" && net.kind() === "ipv4") {
        const v4 = embeddedV4(ip as InstanceType<typeof ipaddr.IPv6>);
        return v4 ? v4.match(net, bits) : false;
      }
      return false;
    });

  return {
    hostAllowed(hostname) {
      const h = normalizeHost(hostname);
      return hosts.has(h) || suffixes.some((s) => h.endsWith(s));
    },
    refusal(address, hostname) {
      const ip = parseIp(address);
      if (!ip) return `Refused to connect to "${address}": it is not an IP address.`;
      const verdict = judgeAddress(ip);
      if (!verdict || inRanges(ip)) return null;
      if (options.allowPrivateNetwork && PRIVATE_NETWORK_RANGES.has(verdict.range)) return null;
      const shown = ip.toString();
      const target =
        hostname && normalizeHost(hostname) !== normalizeHost(shown) ? `${shown} (the address of "${hostname}")` : shown;
      const suggestion =
        hostname && !parseIp(hostname) ? `"${normalizeHost(hostname)}" or "${shown}"` : `"${verdict.embedded ?? shown}"`;
      return (
        `Refused to connect to ${target}: it is ${verdict.reason}. Requests to internal addresses are blocked ` +
        `to prevent server-side request forgery. If this target is trusted, add ${suggestion} to ${ALLOW_LIST_SETTING} ` +
        `(comma-separated host names, IP addresses or CIDR ranges).`
      );
    },
  };
}

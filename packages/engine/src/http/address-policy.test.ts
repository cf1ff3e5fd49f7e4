import { describe, expect, it } from "vitest";
import { createAddressPolicy, judgeAddress, parseIp } from "./address-policy.js";

function judge(address: string): string | null {
  const ip = parseIp(address);
  if (!ip) throw new Error(`not an IP: ${address}`);
  return judgeAddress(ip)?.range ?? null;
}

describe("judgeAddress", () => {
  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ])("allows public %s", (address) => {
    expect(judge(address)).toBeNull();
  });

  it.each([
    ["127.0.0.1", "loopback"],
    ["10.255.255.255", "private"],
    ["172.31.0.1", "private"],
    ["192.168.0.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["100.127.255.255", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["198.51.100.1", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "uniqueLocal"],
    ["fe80::1%eth0", "linkLocal"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:0:a00:1", "private"],
    ["64:ff9b::a9fe:a9fe", "linkLocal"],
    ["64:ff9b:1::a00:1", "private"],
    ["2002:a00:1::", "private"],
    ["::a00:1", "private"],
    ["2001::1", "teredo"],
  ])("refuses %s (%s)", (address, range) => {
    expect(judge(address)).toBe(range);
  });
});

describe("createAddressPolicy", () => {
  it("allows listed IPs, CIDRs and the IPv6 forms embedding a listed IPv4", () => {
    const p = createAddressPolicy({ allowList: ["127.0.0.1", "10.1.0.0/16", "fd00::/8"] });
    expect(p.refusal("127.0.0.1", null)).toBeNull();
    expect(p.refusal("::ffff:127.0.0.1", null)).toBeNull();
    expect(p.refusal("10.1.200.3", null)).toBeNull();
    expect(p.refusal("fd12::1", null)).toBeNull();
    expect(p.refusal("10.2.0.1", null)).toContain("private network");
    expect(p.refusal("127.0.0.2", null)).toContain("loopback");
  });

  it("opens private networks, not loopback or link-local, with allowPrivateNetwork", () => {
    const p = createAddressPolicy({ allowPrivateNetwork: true });
    expect(p.refusal("192.168.1.10", "nas.lan")).toBeNull();
    expect(p.refusal("100.64.1.1", null)).toBeNull();
    expect(p.refusal("fd00::5", null)).toBeNull();
    expect(p.refusal("127.0.0.1", null)).toContain("loopback");
    expect(p.refusal("169.254.169.254", null)).toContain("link-local");
  });

  it("matches host names exactly or by wildcard, ignoring case and a trailing dot", () => {
    const p = createAddressPolicy({ allowList: ["API.internal", "*.corp.example", " "] });
    expect(p.hostAllowed("api.internal.")).toBe(true);
    expect(p.hostAllowed("a.b.corp.example")).toBe(true);
    expect(p.hostAllowed("corp.example")).toBe(false);
    expect(p.hostAllowed("other.internal")).toBe(false);
  });

  it("suggests the embedded IPv4 address for mapped forms", () => {
    expect(createAddressPolicy().refusal("::ffff:169.254.169.254", null)).toContain(
      'add "169.254.169.254" to TRIBUTARY_HTTP_ALLOW_LIST',
    );
  });
});

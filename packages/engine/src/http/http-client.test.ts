import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpRequestSpec } from "../capabilities/types.js";
import { HttpRequestError, RunStoppedError } from "../errors.js";
import { createHttpClient, type HttpClient, type HttpClientOptions } from "./http-client.js";
import { startTestServer, type TestServer } from "./test-server.js";

function spec(url: string, over: Partial<HttpRequestSpec> = {}): HttpRequestSpec {
  return {
    method: "GET",
    url,
    headers: [],
    timeouts: { connectMs: 2_000, readMs: 5_000, writeMs: 5_000 },
    maxTextBytes: 1024 * 1024,
    maxBinaryBytes: 10 * 1024 * 1024,
    followRedirects: true,
    sslVerify: true,
    ...over,
  };
}

const clients: HttpClient[] = [];
function client(options: HttpClientOptions = {}): HttpClient {
  const c = createHttpClient(options);
  clients.push(c);
  return c;
}

/** Resolves test host names to 127.0.0.1 (or what `map` says) without touching DNS. */
function fakeDns(map: Record<string, string[]> = {}) {
  const calls: string[] = [];
  const lookup = async (hostname: string) => {
    calls.push(hostname);
    const addresses = map[hostname] ?? ["127.0.0.1"];
    return addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return { lookup, calls };
}

async function failure(p: Promise<unknown>): Promise<HttpRequestError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HttpRequestError) return e;
    throw e;
  }
  throw new Error("expected the request to fail");
}

const never = new AbortController().signal;

let server: TestServer;
let tlsServer: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  tlsServer = await startTestServer({ tls: true });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
  await tlsServer.close();
});

describe("SSRF guard: literal addresses", () => {
  const guarded = () => client({ lookup: fakeDns().lookup });

  it.each([
    ["http://127.0.0.1/", "loopback"],
    ["http://127.1/", "loopback"],
    ["http://2130706433/", "loopback"],
    ["http://0x7f000001/", "loopback"],
    ["http://0177.0.0.1/", "loopback"],
    ["http://0x7f.1/", "loopback"],
    ["http://10.1.2.3/", "private network"],
    ["http://172.16.0.1/", "private network"],
    ["http://192.168.1.1:8080/admin", "private network"],
    ["http://169.254.169.254/latest/meta-data/", "link-local"],
    ["http://100.64.0.1/", "carrier-grade NAT"],
    ["http://0.0.0.0/", "unspecified"],
    ["http://224.0.0.1/", "multicast"],
    ["http://255.255.255.255/", "broadcast"],
    ["http://240.0.0.1/", "reserved"],
    ["http://192.0.2.10/", "reserved"],
    ["http://[::1]/", "IPv6 loopback"],
    ["http://[::]/", "unspecified IPv6"],
    ["http://[fd00::1]/", "unique-local"],
    ["http://[fe80::1]/", "link-local IPv6"],
    ["http://[ff02::1]/", "multicast IPv6"],
    ["http://[::ffff:127.0.0.1]/", "loopback address, embedded in an IPv6 address"],
    ["http://[::ffff:169.254.169.254]/", "link-local"],
    ["http://[::ffff:10.0.0.1]/", "private network"],
    ["http://[::127.0.0.1]/", "loopback"],
    ["http://[64:ff9b::10.0.0.1]/", "private network"],
    ["http://[2002:7f00:1::]/", "loopback"],
  ])("refuses %s", async (url, reason) => {
    const e = await failure(guarded().request(spec(url), never));
    expect(e.code).toBe("ssrf_blocked");
    expect(e.message).toContain(reason);
    expect(e.message).toContain("TRIBUTARY_HTTP_ALLOW_LIST");
  });

  it("names the address and how to allow it", async () => {
    const e = await failure(guarded().request(spec("http://2130706433/"), never));
    expect(e.message).toBe(
      "Refused to connect to 127.0.0.1: it is a loopback address. Requests to internal addresses are blocked to prevent " +
        'server-side request forgery. If this target is trusted, add "127.0.0.1" to TRIBUTARY_HTTP_ALLOW_LIST ' +
        "(comma-separated host names, IP addresses or CIDR ranges).",
    );
  });

  it.each(["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:70/"])("refuses the scheme of %s", async (url) => {
    const e = await failure(guarded().request(spec(url), never));
    expect(e.code).toBe("ssrf_blocked");
    expect(e.message).toContain("Only http:// and https:// URLs can be requested");
  });
});

describe("SSRF guard: host names", () => {
  it("refuses a name that resolves to a private address, checking at connect time", async () => {
    const dns = fakeDns({ "internal.test": ["10.0.0.7"] });
    const e = await failure(client({ lookup: dns.lookup }).request(spec("http://internal.test/"), never));
    expect(e.code).toBe("ssrf_blocked");
    expect(e.message).toContain('Refused to connect to 10.0.0.7 (the address of "internal.test")');
    expect(e.message).toContain('add "internal.test" or "10.0.0.7" to TRIBUTARY_HTTP_ALLOW_LIST');
    expect(dns.calls).toEqual(["internal.test"]);
  });

  it("refuses when any of the resolved addresses is internal", async () => {
    const dns = fakeDns({ "mixed.test": ["127.0.0.1", "169.254.169.254"] });
    const c = client({ lookup: dns.lookup, allowList: ["127.0.0.1"] });
    const e = await failure(c.request(spec(`http://mixed.test:${server.port}/echo`), never));
    expect(e.code).toBe("ssrf_blocked");
    expect(e.message).toContain("169.254.169.254");
  });

  it("refuses localhost", async () => {
    const e = await failure(client({ lookup: fakeDns().lookup }).request(spec(`http://localhost:${server.port}/echo`), never));
    expect(e.code).toBe("ssrf_blocked");
  });

  it("connects to exactly the addresses it checked (one resolution, no rebinding window)", async () => {
    const dns = fakeDns();
    const c = client({ lookup: dns.lookup, allowList: ["127.0.0.1"] });
    const res = await c.request(spec(`http://svc.test:${server.port}/echo`), never);
    expect(res.status).toBe(200);
    expect(dns.calls).toEqual(["svc.test"]);
  });
});

describe("allow list", () => {
  it("permits 127.0.0.1 when listed", async () => {
    const res = await client({ allowList: ["127.0.0.1"] }).request(spec(`${server.origin}/echo`), never);
    expect(res.status).toBe(200);
    expect(JSON.parse(new TextDecoder().decode(res.body)).method).toBe("GET");
  });

  it("permits CIDR ranges and host names", async () => {
    expect((await client({ allowList: ["127.0.0.0/8"] }).request(spec(`${server.origin}/echo`), never)).status).toBe(200);
    const dns = fakeDns();
    const byName = client({ lookup: dns.lookup, allowList: ["svc.test"] });
    expect((await byName.request(spec(`http://svc.test:${server.port}/echo`), never)).status).toBe(200);
    const byWildcard = client({ lookup: dns.lookup, allowList: ["*.corp.test"] });
    expect((await byWildcard.request(spec(`http://api.corp.test:${server.port}/echo`), never)).status).toBe(200);
  });

  it("rejects malformed entries", () => {
    expect(() => createHttpClient({ allowList: ["http://x/"] })).toThrow(
      /TRIBUTARY_HTTP_ALLOW_LIST: "http:\/\/x\/" is not a host name/,
    );
  });
});

describe("redirects", () => {
  const c = () => client({ allowList: ["127.0.0.1"], lookup: fakeDns().lookup });

  it("re-checks every hop: an allowed host redirecting to the metadata service is refused", async () => {
    const to = encodeURIComponent("http://169.254.169.254/latest/meta-data/");
    const e = await failure(c().request(spec(`${server.origin}/redirect?to=${to}`), never));
    expect(e.code).toBe("ssrf_blocked");
    expect(e.message).toContain("169.254.169.254");
  });

  it("re-checks host names on every hop", async () => {
    const dns = fakeDns();
    const guarded = client({ lookup: dns.lookup, allowList: ["allowed.test"] });
    const to = encodeURIComponent(`http://evil.test:${server.port}/echo`);
    const e = await failure(guarded.request(spec(`http://allowed.test:${server.port}/redirect?to=${to}`), never));
    expect(e.code).toBe("ssrf_blocked");
    expect(e.message).toContain('the address of "evil.test"');
  });

  it("turns POST into GET on 302 and 303, dropping the body", async () => {
    for (const status of [301, 302, 303]) {
      const res = await c().request(
        spec(`${server.origin}/redirect?status=${status}&to=/echo`, {
          method: "POST",
          body: "payload",
          headers: [["content-type", "text/plain"]],
        }),
        never,
      );
      const echoed = JSON.parse(new TextDecoder().decode(res.body));
      expect(echoed.method).toBe("GET");
      expect(echoed.body).toBe("");
      expect(echoed.headers["content-type"]).toBeUndefined();
      expect(res.url).toBe(`${server.origin}/echo`);
    }
  });

  it("keeps method and body on 307 and 308", async () => {
    for (const status of [307, 308]) {
      const res = await c().request(
        spec(`${server.origin}/redirect?status=${status}&to=/echo`, { method: "PUT", body: "payload" }),
        never,
      );
      const echoed = JSON.parse(new TextDecoder().decode(res.body));
      expect([echoed.method, echoed.body]).toEqual(["PUT", "payload"]);
    }
  });

  it("drops credentials when the origin changes", async () => {
    const guarded = client({ lookup: fakeDns().lookup, allowList: ["127.0.0.1", "other.test"] });
    const to = encodeURIComponent(`http://other.test:${server.port}/echo`);
    const headers: Array<[string, string]> = [
      ["authorization", "Bearer secret"],
      ["x-keep", "1"],
    ];
    const cross = await guarded.request(spec(`${server.origin}/redirect?to=${to}`, { headers }), never);
    const crossEcho = JSON.parse(new TextDecoder().decode(cross.body));
    expect(crossEcho.headers.authorization).toBeUndefined();
    expect(crossEcho.headers["x-keep"]).toBe("1");
    const same = await guarded.request(spec(`${server.origin}/redirect?to=/echo`, { headers }), never);
    expect(JSON.parse(new TextDecoder().decode(same.body)).headers.authorization).toBe("Bearer secret");
  });

  it("stops after maxRedirects", async () => {
    const e = await failure(client({ allowList: ["127.0.0.1"], maxRedirects: 3 }).request(spec(`${server.origin}/loop`), never));
    expect(e.message).toBe("Stopped after 3 redirects; the last one pointed to /loop.");
  });

  it("returns the redirect itself when not following", async () => {
    const res = await c().request(spec(`${server.origin}/redirect?to=/echo`, { followRedirects: false }), never);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe("/echo");
  });
});

describe("response caps", () => {
  const c = () => client({ allowList: ["127.0.0.1"] });

  it("stops reading a streamed text body past maxTextBytes", async () => {
    const e = await failure(
      c().request(spec(`${server.origin}/text?bytes=${5 * 1024 * 1024}`, { maxTextBytes: 1024 * 1024 }), never),
    );
    expect(e.message).toContain("text responses are limited to 1.00 MB");
    expect(e.message).toContain("The body was not read further");
  });

  it("refuses an announced Content-Length over the cap before reading", async () => {
    const e = await failure(c().request(spec(`${server.origin}/declared?bytes=200000`, { maxTextBytes: 100_000 }), never));
    expect(e.message).toContain("195.31 KB announced");
  });

  it("applies the binary cap to files", async () => {
    const e = await failure(c().request(spec(`${server.origin}/image?bytes=300000`, { maxBinaryBytes: 100_000 }), never));
    expect(e.message).toContain("file responses are limited to 97.66 KB");
    const ok = await c().request(
      spec(`${server.origin}/image?bytes=300000`, { maxTextBytes: 1_000, maxBinaryBytes: 1_000_000 }),
      never,
    );
    expect(ok.body.byteLength).toBe(300_000);
  });

  it("caps the decompressed size (gzip bomb)", async () => {
    const started = performance.now();
    const e = await failure(c().request(spec(`${server.origin}/gzip-bomb?mb=50`), never));
    expect(e.message).toContain("text responses are limited to 1.00 MB");
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("decompresses gzip bodies", async () => {
    const res = await c().request(spec(`${server.origin}/gzip`), never);
    expect(new TextDecoder().decode(res.body)).toBe('{"ok":true,"text":"héllo"}');
  });

  it("decides ambiguous application types by content", async () => {
    const jsonLike = await failure(
      c().request(spec(`${server.origin}/octet?kind=json&bytes=200000`, { maxTextBytes: 100_000 }), never),
    );
    expect(jsonLike.message).toContain("text responses are limited to");
    const binary = await c().request(spec(`${server.origin}/octet?kind=binary&bytes=200000`, { maxTextBytes: 100_000 }), never);
    expect(binary.body.byteLength).toBe(200_000);
  });
});

describe("timeouts and abort", () => {
  const c = () => client({ allowList: ["127.0.0.1"] });

  it("times out waiting for a response", async () => {
    const started = performance.now();
    const e = await failure(
      c().request(spec(`${server.origin}/hang`, { timeouts: { connectMs: 1_000, readMs: 200, writeMs: 100 } }), never),
    );
    expect(e.message).toBe("127.0.0.1:" + server.port + " sent no response within 300 ms (write + read timeout).");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("times out when the body stalls", async () => {
    const e = await failure(
      c().request(spec(`${server.origin}/stall`, { timeouts: { connectMs: 1_000, readMs: 300, writeMs: 1_000 } }), never),
    );
    expect(e.message).toContain("stalled for 300 ms (read timeout)");
  });

  it("times out connecting", async () => {
    const slow = client({ allowList: ["127.0.0.1"], lookup: () => new Promise(() => {}) });
    const e = await failure(
      slow.request(spec("http://slow.test/", { timeouts: { connectMs: 200, readMs: 1_000, writeMs: 1_000 } }), never),
    );
    expect(e.message).toBe("Connecting to slow.test timed out after 200 ms (connect timeout).");
  });

  it("aborts promptly while waiting for headers", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const started = performance.now();
    const e = await failure(c().request(spec(`${server.origin}/hang`), ac.signal));
    expect(e.message).toBe("The HTTP request was aborted.");
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("aborts promptly while reading the body, rethrowing the run's own reason", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new RunStoppedError()), 100);
    const started = performance.now();
    await expect(c().request(spec(`${server.origin}/stall`), ac.signal)).rejects.toBeInstanceOf(RunStoppedError);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("requests and responses", () => {
  const c = () => client({ allowList: ["127.0.0.1"] });

  it("sends headers and a body, with a default User-Agent", async () => {
    const res = await c().request(
      spec(`${server.origin}/echo?q=1`, { method: "patch", headers: [["X-Custom", "yes"]], body: new Uint8Array([1, 2, 3]) }),
      never,
    );
    const echoed = JSON.parse(new TextDecoder().decode(res.body));
    expect(echoed.method).toBe("PATCH");
    expect(echoed.url).toBe("/echo?q=1");
    expect(echoed.headers["x-custom"]).toBe("yes");
    expect(echoed.headers["user-agent"]).toMatch(/^Tributary\//);
    expect(echoed.bodyBase64).toBe("AQID");
  });

  it("sends url-encoded and multipart bodies", async () => {
    const form = await c().request(
      spec(`${server.origin}/echo`, { method: "POST", body: new URLSearchParams({ a: "1 2", b: "é" }) }),
      never,
    );
    const formEcho = JSON.parse(new TextDecoder().decode(form.body));
    expect(formEcho.body).toBe("a=1+2&b=%C3%A9");
    expect(formEcho.headers["content-type"]).toBe("application/x-www-form-urlencoded");

    const fd = new FormData();
    fd.append("field", "value");
    fd.append("file", new Blob([new Uint8Array([104, 105])], { type: "text/plain" }), "hi.txt");
    const multi = await c().request(
      spec(`${server.origin}/echo`, { method: "POST", body: fd, headers: [["Content-Type", "multipart/form-data"]] }),
      never,
    );
    const multiEcho = JSON.parse(new TextDecoder().decode(multi.body));
    expect(multiEcho.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(multiEcho.body).toContain('name="field"\r\n\r\nvalue');
    expect(multiEcho.body).toContain('name="file"; filename="hi.txt"\r\nContent-Type: text/plain\r\n\r\nhi');
  });

  it("returns lower-cased headers with repeated ones joined", async () => {
    const res = await c().request(spec(`${server.origin}/cookies`), never);
    expect(res.headers["set-cookie"]).toBe("a=1, b=2");
    expect(res.headers["content-type"]).toBe("text/plain");
  });

  it("returns no body for HEAD", async () => {
    const res = await c().request(spec(`${server.origin}/echo`, { method: "HEAD" }), never);
    expect(res.status).toBe(200);
    expect(res.body.byteLength).toBe(0);
  });

  it("verifies TLS certificates unless sslVerify is false", async () => {
    const e = await failure(c().request(spec(`${tlsServer.origin}/echo`), never));
    expect(e.message).toContain("TLS certificate verification failed for 127.0.0.1:");
    const res = await c().request(spec(`${tlsServer.origin}/echo`, { sslVerify: false }), never);
    expect(res.status).toBe(200);
  });

  it("reports refused connections", async () => {
    const closed = await startTestServer();
    const url = `${closed.origin}/echo`;
    await closed.close();
    const e = await failure(c().request(spec(url), never));
    expect(e.message).toBe(`127.0.0.1:${closed.port} refused the connection.`);
  });
});

/**
 * Parts of @tributary/sdk that need no server: VApp links against vectors computed with
 * Python (`urllib.parse.quote`, `base64.b64encode`, AES-CBC + PKCS#7 as the Python SDK's
 * `generate_vapp_url` does) and against an independent Node `crypto` implementation; the
 * retry rules; Retry-After parsing; the public types (checked by `npm run typecheck`); the SDK's
 * browser-safety (no Node import at top level).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  APIKeyError,
  DifyApiError,
  generateVappUrl,
  NetworkError,
  pythonQuote,
  RequestAbortedError,
  RequestTimeoutError,
  type RunStatus,
  VectorVeinAPIError,
  VectorVeinClient,
  type WorkflowRunResult,
  type WorkflowStreamEvent,
} from "@tributary/sdk";
import { describe, expect, expectTypeOf, it } from "vitest";
import { backoffDelay, parseRetryAfter, type RequestPlan, retryDelay } from "../../sdk/src/transport.js";

const API_KEY = "0123456789abcdefABCDEFGHIJKLMNOP";
const APP_ID = "9b2f6d0e-1c3a-4e5f-8a7b-6c5d4e3f2a1b";
const ACCESS_KEY = "5f0c9e8d7b6a5f4e3d2c1b0a9f8e7d6c";
const KEY_ID = "kid-AbCdEfGhIjKlMnOpQrSt";
const TIMESTAMP = 1735689600;

/** The Python SDK's algorithm, step by step, with Node's crypto (OpenSSL) instead of pycryptodome. */
function nodeVappUrl(
  apiKey: string,
  appId: string,
  accessKey: string,
  keyId: string,
  timestamp: number,
  iv: Buffer,
  baseUrl: string,
) {
  const message = `${appId}:${accessKey}:${timestamp}:${900}`;
  const key = Buffer.from(apiKey, "utf8");
  const cipher = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv); // PKCS#7 padding by default
  const encrypted = Buffer.concat([cipher.update(message, "utf8"), cipher.final()]);
  const token = Buffer.concat([iv, encrypted]).toString("base64");
  // quote(token) with safe "/": of base64's alphabet only "+" and "=" need escaping.
  const quoted = token.replace(/\+/g, "%2B").replace(/=/g, "%3D");
  return `${baseUrl}/public/v-app/${appId}?token=${quoted}&key_id=${keyId}`;
}

function decryptToken(url: string, apiKey: string): string {
  const token = decodeURIComponent(new URL(url).searchParams.get("token") ?? "");
  const raw = Buffer.from(token, "base64");
  const key = Buffer.from(apiKey, "utf8");
  const decipher = createDecipheriv(`aes-${key.length * 8}-cbc`, key, raw.subarray(0, 16));
  return Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]).toString("utf8");
}

describe("generateVappUrl", () => {
  it("equals the link Python computes for the same IV and time (vectors from urllib/base64/AES-CBC)", async () => {
    const iv = new Uint8Array(Array.from({ length: 16 }, (_, i) => i));
    expect(
      await generateVappUrl(API_KEY, APP_ID, ACCESS_KEY, KEY_ID, { timestamp: TIMESTAMP, iv, baseUrl: "https://vectorvein.com" }),
    ).toBe(
      "https://vectorvein.com/public/v-app/9b2f6d0e-1c3a-4e5f-8a7b-6c5d4e3f2a1b?token=AAECAwQFBgcICQoLDA0OD52KO6cs55sIwrPGnLcG2SM8oNaG8v5HmaUbDxr0UEVpptzghiC5rzmoVhQ4wmTVcKNYOS34BNEE4kmDyUeqMRnFUYe/jxcNRzjFpSCrClhyh2Bc2pgL2aE%2Bc1UkZ0vo9w%3D%3D&key_id=kid-AbCdEfGhIjKlMnOpQrSt",
    );
    // An IV whose base64 has "+" and "/" in it: "+" escaped, "/" kept, like quote(token).
    const iv2 = new Uint8Array([0xfb, 0xff, 0xbf, 0x3e, 0xfb, 0xff, 0xbf, 0x3e, 0xfb, 0xff, 0xbf, 0x3e, 0xfb, 0xff, 0xbf, 0x3e]);
    const client = new VectorVeinClient({ apiKey: API_KEY, baseUrl: "http://127.0.0.1:8080" });
    expect(await client.generateVappUrl(APP_ID, ACCESS_KEY, KEY_ID, { timestamp: TIMESTAMP, iv: iv2 })).toBe(
      "http://127.0.0.1:8080/public/v-app/9b2f6d0e-1c3a-4e5f-8a7b-6c5d4e3f2a1b?token=%2B/%2B/Pvv/vz77/78%2B%2B/%2B/PuQbVITJppH5ghWb7AHEo5FlUQviMglzpy2/GSyaafoHEXmXmIva5rGbNhgjnUv95Ob5xo0BvzXFk7y2rrgg150x1rCgYrmD4mFF0HU1TNut6QBPb/MmJfJNwZlQub10CA%3D%3D&key_id=kid-AbCdEfGhIjKlMnOpQrSt",
    );
  });

  it("equals an independent Node crypto implementation for random keys, IVs and AES-128/192/256", async () => {
    for (const length of [16, 24, 32]) {
      for (let round = 0; round < 20; round++) {
        const apiKey = randomBytes(length).toString("base64").slice(0, length);
        const iv = randomBytes(16);
        const accessKey = randomBytes(16).toString("hex");
        const expected = nodeVappUrl(apiKey, APP_ID, accessKey, KEY_ID, TIMESTAMP + round, iv, "http://vapp.example");
        const actual = await generateVappUrl(apiKey, APP_ID, accessKey, KEY_ID, {
          timestamp: TIMESTAMP + round,
          iv: new Uint8Array(iv),
          baseUrl: "http://vapp.example",
        });
        expect(actual).toBe(expected);
      }
    }
  });

  it("a link made now decrypts (Node crypto) to app:access-key:now:timeout", async () => {
    const client = new VectorVeinClient({ apiKey: API_KEY, baseUrl: "http://127.0.0.1:9/api/v1/open-api" });
    const before = Math.floor(Date.now() / 1000);
    const url = await client.generateVappUrl(APP_ID, ACCESS_KEY, KEY_ID, { timeout: 60 });
    expect(url.startsWith(`http://127.0.0.1:9/public/v-app/${APP_ID}?token=`)).toBe(true);
    expect(new URL(url).searchParams.get("key_id")).toBe(KEY_ID);
    const [app, access, ts, timeout] = decryptToken(url, API_KEY).split(":");
    expect([app, access, timeout]).toEqual([APP_ID, ACCESS_KEY, "60"]);
    expect(Number(ts)).toBeGreaterThanOrEqual(before);
    expect(Number(ts)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    // A fresh random IV each time, as in Python.
    expect(await client.generateVappUrl(APP_ID, ACCESS_KEY, KEY_ID)).not.toBe(
      await client.generateVappUrl(APP_ID, ACCESS_KEY, KEY_ID),
    );
  });

  it("refuses a key that cannot be an AES key, and a bad timeout", async () => {
    await expect(generateVappUrl("too-short", APP_ID, ACCESS_KEY, KEY_ID)).rejects.toBeInstanceOf(APIKeyError);
    await expect(generateVappUrl("too-short", APP_ID, ACCESS_KEY, KEY_ID)).rejects.toThrow(/9 bytes long.*16, 24 or 32/);
    await expect(generateVappUrl(API_KEY, APP_ID, ACCESS_KEY, KEY_ID, { timeout: 1.5 })).rejects.toThrow(/whole number/);
  });

  it("pythonQuote matches urllib.parse.quote", () => {
    expect(pythonQuote("a+b/c=d e~f_g.h-i")).toBe("a%2Bb/c%3Dd%20e~f_g.h-i");
    expect(pythonQuote("é!*'()")).toBe("%C3%A9%21%2A%27%28%29");
  });
});

describe("retry rules", () => {
  const policy = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 };
  const read: RequestPlan = { method: "GET", path: "/x", idempotent: true };
  const create: RequestPlan = { method: "POST", path: "/x", idempotent: false };
  const stream: RequestPlan = { method: "POST", path: "/x", idempotent: true, replayable: false };
  const dify = (status: number, retryAfterMs?: number) =>
    new DifyApiError(
      { code: "c", message: "m", status },
      { httpStatus: status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
    );

  it("never-sent requests are always retried; maybe-processed ones only when idempotent", () => {
    const refused = new NetworkError("refused", { maybeProcessed: false });
    const reset = new NetworkError("reset", { maybeProcessed: true });
    expect(retryDelay(refused, 0, create, policy)).not.toBeNull();
    expect(retryDelay(reset, 0, create, policy)).toBeNull();
    expect(retryDelay(reset, 0, read, policy)).not.toBeNull();
    expect(retryDelay(new RequestTimeoutError("t", { timeoutMs: 1 }), 0, create, policy)).toBeNull();
    expect(retryDelay(new RequestTimeoutError("t", { timeoutMs: 1 }), 0, read, policy)).not.toBeNull();
    expect(retryDelay(new RequestAbortedError("a"), 0, read, policy)).toBeNull();
    expect(retryDelay(refused, 0, stream, policy)).toBeNull();
  });

  it("429 always (honouring Retry-After up to the limit); 502/503/504 only when idempotent; other errors never", () => {
    expect(retryDelay(dify(429, 1234), 0, create, policy)).toBe(1234);
    expect(retryDelay(dify(429, 60_000), 0, create, policy)).toBeNull();
    expect(retryDelay(dify(503), 0, read, policy)).not.toBeNull();
    expect(retryDelay(dify(503), 0, create, policy)).toBeNull();
    expect(retryDelay(dify(500), 0, read, policy)).toBeNull();
    expect(retryDelay(dify(400), 0, read, policy)).toBeNull();
    expect(retryDelay(new VectorVeinAPIError("slow down", 429, { httpStatus: 200, retryAfterMs: 2000 }), 0, create, policy)).toBe(
      2000,
    );
    expect(retryDelay(new VectorVeinAPIError("nope", 404, { httpStatus: 200 }), 0, read, policy)).toBeNull();
  });

  it("backoff doubles up to the cap, with jitter in the upper half", () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, policy);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it("Retry-After in seconds or as an HTTP date", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter("0")).toBe(0);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThan(8000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe("browser safety", () => {
  it("the SDK source imports nothing from Node at top level and only eventsource-parser from npm", () => {
    const root = fileURLToPath(new URL("../../sdk/src", import.meta.url));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith(".ts")) files.push(path);
      }
    };
    walk(root);
    for (const file of files) {
      const source = readFileSync(file, "utf8");
      for (const match of source.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gm)) {
        const specifier = match[1] ?? "";
        expect(specifier.startsWith(".") || specifier === "eventsource-parser", `${file}: ${specifier}`).toBe(true);
      }
    }
    const pkg = JSON.parse(readFileSync(join(root, "..", "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(["eventsource-parser"]);
  });
});

describe("types", () => {
  it("runWorkflow's overloads follow the Python ones: the rid without waiting, the result when waiting", () => {
    // Never called: the assertions are checked at compile time by `npm run typecheck`.
    const check = async (vv: VectorVeinClient, wait: boolean) => {
      expectTypeOf(await vv.runWorkflow("wid", [])).toEqualTypeOf<string>();
      expectTypeOf(await vv.runWorkflow("wid", [], { waitForCompletion: false })).toEqualTypeOf<string>();
      expectTypeOf(await vv.runWorkflow("wid", [], { waitForCompletion: true, timeout: 60 })).toEqualTypeOf<WorkflowRunResult>();
      expectTypeOf(await vv.runWorkflow("wid", [], { waitForCompletion: wait })).toEqualTypeOf<string | WorkflowRunResult>();
    };
    expect(typeof check).toBe("function");
  });

  it("stream events narrow on `event`", () => {
    const check = (event: WorkflowStreamEvent) => {
      if (event.event === "node_finished") expectTypeOf(event.data.elapsed_time).toEqualTypeOf<number>();
      if (event.event === "text_chunk") expectTypeOf(event.data.text).toEqualTypeOf<string>();
      if (event.event === "error") expectTypeOf(event.code).toEqualTypeOf<string>();
      if (event.event === "workflow_finished") expectTypeOf(event.data.status).toEqualTypeOf<RunStatus>();
    };
    expect(typeof check).toBe("function");
  });
});

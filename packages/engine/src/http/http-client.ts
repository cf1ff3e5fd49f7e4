/**
 * The HTTP capability: undici with an SSRF guard.
 *
 * - Literal IP hosts are checked before connecting (the URL parser has already normalised
 *   `2130706433`, `0x7f.1`, `0177.0.0.1` and `[::ffff:127.0.0.1]`).
 * - Host names are checked at connect time: the undici Agent's `connect.lookup` resolves the
 *   name, refuses the connection if any resolved address is internal, and hands the same
 *   addresses to the socket. There is no second resolution, so no DNS-rebinding window.
 * - Redirects are followed by hand (never by undici), so every hop goes through both checks.
 * - Response bodies are read as a stream and abandoned as soon as they pass the cap (after
 *   decompression, so a small gzip bomb cannot expand past it).
 */

import type { LookupAddress, LookupOptions } from "node:dns";
import dns from "node:dns";
import type { Readable } from "node:stream";
import zlib from "node:zlib";
import { Agent, type Dispatcher, request, FormData as UndiciFormData } from "undici";
import type { HttpCapability, HttpRequestSpec, HttpResponseData } from "../capabilities/types.js";
import { HttpRequestError, isTributaryError } from "../errors.js";
import { createAddressPolicy, parseIp } from "./address-policy.js";
import { classifyByHeaders, isFileResponse } from "./response-kind.js";

export interface HttpClientOptions {
  /** Host names, IPs or CIDR ranges allowed even though they are internal (TRIBUTARY_HTTP_ALLOW_LIST). */
  allowList?: string[];
  /** Allow private networks (RFC 1918, CGNAT, fc00::/7); loopback and link-local still need the allow list. */
  allowPrivateNetwork?: boolean;
  /** DNS override (tests): every address of `hostname`. Defaults to the system resolver. */
  lookup?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
  userAgent?: string;
  /** Redirect hops followed before giving up (default 10). */
  maxRedirects?: number;
}

export interface HttpClient extends HttpCapability {
  /** Closes pooled connections. */
  close(): Promise<void>;
}

const DEFAULT_USER_AGENT = "Tributary/0.1 (+https://github.com/tributary; workflow http-request)";
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function ssrfError(message: string): HttpRequestError {
  return new HttpRequestError(message, { code: "ssrf_blocked" });
}

/** The SSRF refusal inside whatever undici wrapped it in. */
function findTributaryError(e: unknown): Error | null {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur instanceof Error; i++) {
    if (isTributaryError(cur)) return cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  return null;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(2)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

function headerRecord(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function hasHeader(headers: ReadonlyArray<readonly [string, string]>, name: string): boolean {
  return headers.some(([k]) => k.toLowerCase() === name);
}

function withoutHeaders(headers: Array<[string, string]>, names: readonly string[]): Array<[string, string]> {
  return headers.filter(([k]) => !names.includes(k.toLowerCase()));
}

/** Node's global FormData is a different undici copy; undici.request only accepts its own class. */
function toUndiciFormData(fd: FormData): UndiciFormData {
  const out = new UndiciFormData();
  for (const [name, value] of fd.entries()) {
    if (typeof value === "string") out.append(name, value);
    else out.append(name, value, (value as File).name);
  }
  return out;
}

type Body = string | Uint8Array | UndiciFormData | undefined;

function prepareBody(spec: HttpRequestSpec, headers: Array<[string, string]>): { body: Body; headers: Array<[string, string]> } {
  const b = spec.body;
  if (b === undefined) return { body: undefined, headers };
  if (typeof b === "string" || b instanceof Uint8Array) return { body: b, headers };
  if (b instanceof URLSearchParams) {
    const h = hasHeader(headers, "content-type")
      ? headers
      : [...headers, ["content-type", "application/x-www-form-urlencoded"] as [string, string]];
    return { body: b.toString(), headers: h };
  }
  // Multipart needs the boundary undici generates; a hand-written Content-Type would lack it.
  return { body: toUndiciFormData(b), headers: withoutHeaders(headers, ["content-type"]) };
}

function decoderFor(encoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | null {
  switch ((encoding ?? "").trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip();
    case "deflate":
      return zlib.createInflate();
    case "br":
      return zlib.createBrotliDecompress();
    default:
      return null;
  }
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const policy = createAddressPolicy(options);
  const maxRedirects = options.maxRedirects ?? 10;
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  const resolve =
    options.lookup ??
    ((hostname: string) => dns.promises.lookup(hostname, { all: true, verbatim: true }) as Promise<LookupAddress[]>);

  /** net.connect's `lookup`: resolve once, refuse if any address is internal, connect to what was checked. */
  const guardedLookup = (
    hostname: string,
    opts: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    resolve(hostname).then(
      (found) => {
        let addresses = found.map((a) => ({ address: a.address, family: a.family }));
        if (addresses.length === 0) {
          callback(Object.assign(new Error(`Could not resolve host name "${hostname}".`), { code: "ENOTFOUND" }), "");
          return;
        }
        if (!policy.hostAllowed(hostname)) {
          for (const a of addresses) {
            const refusal = policy.refusal(a.address, hostname);
            if (refusal) {
              callback(ssrfError(refusal), "");
              return;
            }
          }
        }
        if (opts.family === 4 || opts.family === 6) {
          const fam = opts.family;
          const matching = addresses.filter((a) => a.family === fam);
          if (matching.length > 0) addresses = matching;
        }
        const first = addresses[0] as LookupAddress;
        if (opts.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, ""),
    );
  };

  const agents = new Map<string, Agent>();
  const agentFor = (sslVerify: boolean, connectMs: number): Agent => {
    const key = `${sslVerify}|${connectMs}`;
    let agent = agents.get(key);
    if (!agent) {
      agent = new Agent({
        connect: { lookup: guardedLookup, rejectUnauthorized: sslVerify, timeout: connectMs },
        allowH2: false,
      });
      agents.set(key, agent);
    }
    return agent;
  };

  /** Scheme and literal-IP checks; host names are checked when the socket connects. */
  const checkTarget = (url: URL): void => {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw ssrfError(`Only http:// and https:// URLs can be requested; refused ${url.protocol}// (${url.href}).`);
    }
    const ip = parseIp(url.hostname);
    if (ip && !policy.hostAllowed(url.hostname)) {
      const refusal = policy.refusal(ip.toString(), null);
      if (refusal) throw ssrfError(refusal);
    }
  };

  const abortError = (signal: AbortSignal, cause?: unknown): Error => {
    const reason: unknown = signal.reason;
    if (isTributaryError(reason)) return reason;
    return new HttpRequestError("The HTTP request was aborted.", { cause: cause ?? reason });
  };

  const transportError = (e: unknown, url: URL, spec: HttpRequestSpec, signal: AbortSignal): Error => {
    if (signal.aborted) return abortError(signal, e);
    const inner = findTributaryError(e);
    if (inner) return inner;
    const err = e as { code?: string; message?: string };
    const where = url.host;
    switch (err.code) {
      case "UND_ERR_CONNECT_TIMEOUT":
        return new HttpRequestError(
          `Connecting to ${where} timed out after ${seconds(spec.timeouts.connectMs)} (connect timeout).`,
          { cause: e },
        );
      case "UND_ERR_HEADERS_TIMEOUT":
        return new HttpRequestError(
          `${where} sent no response within ${seconds(spec.timeouts.readMs + spec.timeouts.writeMs)} (write + read timeout).`,
          { cause: e },
        );
      case "UND_ERR_BODY_TIMEOUT":
        return new HttpRequestError(
          `The response body from ${where} stalled for ${seconds(spec.timeouts.readMs)} (read timeout).`,
          { cause: e },
        );
      case "ECONNREFUSED":
        return new HttpRequestError(`${where} refused the connection.`, { cause: e });
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return new HttpRequestError(`Could not resolve the host name "${url.hostname}".`, { cause: e });
      case "ECONNRESET":
      case "UND_ERR_SOCKET":
        return new HttpRequestError(`The connection to ${where} was closed unexpectedly (${err.message ?? err.code}).`, {
          cause: e,
        });
      case "UND_ERR_INVALID_ARG":
        return new HttpRequestError(`Invalid request: ${err.message ?? "bad argument"}.`, { cause: e });
      default:
        break;
    }
    if (typeof err.code === "string" && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(err.code)) {
      return new HttpRequestError(
        `TLS certificate verification failed for ${where} (${err.message ?? err.code}). Turn SSL verification off for this node only if you trust the server.`,
        { cause: e },
      );
    }
    return new HttpRequestError(`The request to ${where} failed: ${err.message ?? String(e)}`, { cause: e });
  };

  const readBody = async (
    res: Dispatcher.ResponseData,
    headers: Record<string, string>,
    spec: HttpRequestSpec,
    url: URL,
    signal: AbortSignal,
  ): Promise<Uint8Array> => {
    const kind = classifyByHeaders(headers);
    const cap = kind === "text" ? spec.maxTextBytes : spec.maxBinaryBytes;
    const what = kind === "text" ? "text" : "file";
    const tooLarge = (size: string): HttpRequestError =>
      new HttpRequestError(
        `The response from ${url.host} is too large: ${size}, but ${what} responses are limited to ${humanBytes(cap)}. ` +
          "The body was not read further.",
      );
    const declared = Number(headers["content-length"]);
    const decoder = decoderFor(headers["content-encoding"]);
    if (!decoder && Number.isFinite(declared) && declared > cap) {
      res.body.destroy();
      throw tooLarge(`${humanBytes(declared)} announced`);
    }
    let stream: Readable = res.body;
    if (decoder) {
      res.body.on("error", (e) => decoder.destroy(e));
      stream = res.body.pipe(decoder);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Uint8Array>) {
        total += chunk.byteLength;
        if (total > cap) {
          stream.destroy();
          res.body.destroy();
          throw tooLarge(`more than ${humanBytes(cap)}`);
        }
        chunks.push(chunk);
      }
    } catch (e) {
      res.body.destroy();
      if (e instanceof HttpRequestError) throw e;
      if ((e as { code?: string }).code?.startsWith("Z_") || (e as { code?: string }).code?.startsWith("ERR_BROTLI")) {
        throw new HttpRequestError(
          `The response from ${url.host} could not be decompressed (${headers["content-encoding"]}): ${(e as Error).message}`,
          { cause: e },
        );
      }
      throw transportError(e, url, spec, signal);
    }
    const body = Buffer.concat(chunks, total);
    const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    // Headers could not decide text vs file: now the first KiB can.
    if (kind === "sniff" && total > spec.maxTextBytes && !isFileResponse(headers, bytes)) {
      throw new HttpRequestError(
        `The response from ${url.host} is too large: ${humanBytes(total)} of text, but text responses are limited to ${humanBytes(spec.maxTextBytes)}.`,
      );
    }
    return bytes;
  };

  const requestOnce = async (spec: HttpRequestSpec, signal: AbortSignal): Promise<HttpResponseData> => {
    let url: URL;
    try {
      url = new URL(spec.url);
    } catch {
      throw new HttpRequestError(`"${spec.url}" is not a valid URL.`);
    }
    let method = spec.method.toUpperCase();
    const headers: Array<[string, string]> = spec.headers.map(([k, v]) => [k, v]);
    if (!hasHeader(headers, "user-agent")) headers.push(["user-agent", userAgent]);
    if (!hasHeader(headers, "accept-encoding")) headers.push(["accept-encoding", "gzip, deflate, br"]);
    let prepared = prepareBody(spec, headers);
    const dispatcher = agentFor(spec.sslVerify, spec.timeouts.connectMs);

    for (let hop = 0; ; hop++) {
      checkTarget(url);
      if (signal.aborted) throw abortError(signal);
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method: method as Dispatcher.HttpMethod,
          headers: prepared.headers.flat(),
          body: prepared.body,
          signal,
          dispatcher,
          // undici has no write timeout; the wait for headers covers sending the request too.
          headersTimeout: spec.timeouts.readMs + spec.timeouts.writeMs,
          bodyTimeout: spec.timeouts.readMs,
        });
      } catch (e) {
        throw transportError(e, url, spec, signal);
      }
      const resHeaders = headerRecord(res.headers);
      const location = resHeaders.location;
      if (spec.followRedirects && REDIRECT_STATUSES.has(res.statusCode) && location) {
        await res.body.dump().catch(() => undefined);
        if (hop >= maxRedirects) {
          throw new HttpRequestError(`Stopped after ${maxRedirects} redirects; the last one pointed to ${location}.`);
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new HttpRequestError(`${url.host} redirected to an invalid URL: ${location}`);
        }
        // RFC 9110 §15.4: 303 always becomes GET (HEAD stays HEAD); 301/302 turn POST into GET
        // as every client does; 307/308 repeat the method and body.
        const toGet =
          (res.statusCode === 303 && method !== "HEAD") ||
          ((res.statusCode === 301 || res.statusCode === 302) && method === "POST");
        if (toGet) {
          method = "GET";
          prepared = {
            body: undefined,
            headers: withoutHeaders(prepared.headers, [
              "content-type",
              "content-length",
              "content-encoding",
              "transfer-encoding",
            ]),
          };
        } else if (prepared.body instanceof UndiciFormData && spec.body instanceof FormData) {
          prepared = { ...prepared, body: toUndiciFormData(spec.body) };
        }
        if (next.origin !== url.origin) {
          // Credentials are for the origin they were written for.
          prepared = {
            ...prepared,
            headers: withoutHeaders(prepared.headers, ["authorization", "proxy-authorization", "cookie"]),
          };
        }
        url = next;
        continue;
      }
      const body = method === "HEAD" ? new Uint8Array(0) : await readBody(res, resHeaders, spec, url, signal);
      return { status: res.statusCode, headers: resHeaders, body, url: url.href };
    }
  };

  return {
    request: requestOnce,
    async close() {
      await Promise.all([...agents.values()].map((a) => a.close()));
      agents.clear();
    },
  };
}

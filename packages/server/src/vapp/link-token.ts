/**
 * The token of a VApp link, exactly as the SDK's `generate_vapp_url` makes it: the plaintext
 * `"{app_id}:{access_key}:{unix_seconds}:{timeout}"`, PKCS#7-padded, AES-CBC with the UTF-8
 * bytes of the Open API key as the key, a random 16-byte IV prepended, standard base64, then
 * URL-quoted. The link names the Open API key by its public `key_id`.
 *
 * Every way a link can be wrong ends in one of a few verdicts whose wording reveals nothing an
 * attacker could use (a wrong key, a bad padding and a tampered byte all read "not valid").
 */
import { createDecipheriv } from "node:crypto";
import { accessKeyStatus } from "../store/queries/access-keys.js";
import type { AccessKeyRow, AppRow, OpenApiKeyRow, Store } from "../store/types.js";
import { accessKeyRefusalMessage } from "../vectorvein/start-run.js";

export interface VappTokenContents {
  appId: string;
  accessKey: string;
  /** Unix seconds when the link was made. */
  timestamp: number;
  /** Seconds the link stays valid. */
  timeout: number;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const AES_CBC: Record<number, string> = { 16: "aes-128-cbc", 24: "aes-192-cbc", 32: "aes-256-cbc" };

/** The token's contents, or null when it does not decrypt to a well-formed plaintext with `secret`. */
export function decryptVappToken(secret: string, token: string): VappTokenContents | null {
  // A `+` that was not percent-encoded arrives as a space after query decoding.
  const text = token.replace(/ /g, "+").trim();
  if (!BASE64.test(text) || text.length % 4 !== 0) return null;
  const raw = Buffer.from(text, "base64");
  if (raw.length < 32 || raw.length % 16 !== 0) return null;
  const key = Buffer.from(secret, "utf8");
  const algorithm = AES_CBC[key.length];
  if (!algorithm) return null;
  let plain: string;
  try {
    const decipher = createDecipheriv(algorithm, key, raw.subarray(0, 16));
    // Node checks and strips PKCS#7 padding in final(); bad padding throws.
    const bytes = Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]);
    plain = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  const parts = plain.split(":");
  if (parts.length !== 4) return null;
  const [appId, accessKey, ts, timeout] = parts as [string, string, string, string];
  if (appId === "" || accessKey === "" || !/^\d{1,12}$/.test(ts) || !/^\d{1,10}$/.test(timeout)) return null;
  return { appId, accessKey, timestamp: Number(ts), timeout: Number(timeout) };
}

/** Clock difference tolerated between the server that made the link and this one. */
export const LINK_SKEW_SEC = 60;

export type LinkVerdict =
  | { ok: true; app: AppRow; accessKey: AccessKeyRow; openApiKey: OpenApiKeyRow }
  | { ok: false; status: 400 | 403 | 404; title: string; message: string };

const INCOMPLETE = {
  ok: false,
  status: 400,
  title: "Incomplete link",
  message: "This link is incomplete. Open the whole link you were given, or ask for a new one.",
} as const;
const NOT_VALID = {
  ok: false,
  status: 403,
  title: "Link not valid",
  message: "This link is not valid. Ask whoever gave it to you for a new one.",
} as const;

export async function verifyVappLink(
  store: Store,
  request: { appId: string; token: string | undefined; keyId: string | undefined },
  nowMs: number,
): Promise<LinkVerdict> {
  const { token, keyId } = request;
  if (!token || !keyId) return INCOMPLETE;
  const found = await store.getOpenApiKeySecret(keyId);
  if (!found) return NOT_VALID;
  const contents = decryptVappToken(found.secret, token);
  if (!contents || contents.appId !== request.appId) return NOT_VALID;
  const now = Math.floor(nowMs / 1000);
  if (contents.timestamp > now + LINK_SKEW_SEC) return NOT_VALID;
  if (now > contents.timestamp + contents.timeout + LINK_SKEW_SEC) {
    return {
      ok: false,
      status: 403,
      title: "Link expired",
      message: "This link has expired. Ask whoever gave it to you for a new one.",
    };
  }
  const accessKey = await store.findAccessKey(contents.accessKey);
  // A key of another owner is as unknown as a missing one.
  if (!accessKey || accessKey.owner !== found.key.owner) return NOT_VALID;
  const status = accessKeyStatus(accessKey, nowMs);
  if (status !== "AC") {
    return {
      ok: false,
      status: 403,
      title: "Access key not valid",
      message: accessKeyRefusalMessage(status === "EX" ? "expired" : status === "US" ? "used_up" : "invalid"),
    };
  }
  if (!accessKey.appIds.includes(request.appId)) {
    return { ok: false, status: 403, title: "Access key not valid", message: accessKeyRefusalMessage("not_for_app") };
  }
  const app = await store.getApp(request.appId);
  if (!app?.enabled) {
    return { ok: false, status: 404, title: "App not available", message: "This app is not available any more." };
  }
  return { ok: true, app, accessKey, openApiKey: found.key };
}

/**
 * The public VApp page. `GET /public/v-app/{app_id}?token=…&key_id=…` checks the signed link
 * (link-token.ts) and answers the page with a short-lived session cookie (HttpOnly,
 * SameSite=Strict, scoped to the app's path) bound to the app and the access key. The page's
 * own calls — upload, run, follow a run over SSE — authenticate with that cookie only; no API
 * key ever reaches the browser. Runs take a use of the access key (vectorvein/start-run.ts).
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { receiveUpload, UploadError } from "../files/multipart-upload.js";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError } from "../http/errors.js";
import { parseWith, readJsonBody } from "../http/request-body.js";
import { defineRoute, pathParam } from "../http/route.js";
import { SSE_HEADERS, sseBody, sseFrame } from "../http/sse.js";
import { accessKeyStatus } from "../store/queries/access-keys.js";
import type { AccessKeyRow, AppRow, JsonObject, RunRow, VappSessionRow } from "../store/types.js";
import { describeInputs } from "../vectorvein/input-fields.js";
import { AccessKeyRefusedError, startOpenApiRun } from "../vectorvein/start-run.js";
import { outputsJson } from "../vectorvein/wire.js";
import { verifyVappLink } from "./link-token.js";
import { PAGE_SCRIPT, PAGE_STYLE, type PageAsset } from "./page-assets.js";
import { PAGE_HEADERS, renderErrorPage, renderPage } from "./page-html.js";

const COOKIE = "tributary_vapp";
/** How long a page session lasts after the link was opened. */
export const SESSION_TTL_MS = 60 * 60 * 1000;

const runBody = z.object({
  inputs: z.record(z.string(), z.unknown(), { error: "inputs must be a JSON object of the form's values." }),
});

interface Session {
  row: VappSessionRow;
  app: AppRow;
  accessKey: AccessKeyRow;
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** The form the page builds: the start node's variables. */
function formOf(dsl: JsonObject): Array<Record<string, unknown>> {
  const nodes = (dsl["workflow"] as { graph?: { nodes?: Array<{ parentId?: unknown; data?: Record<string, unknown> }> } })?.graph
    ?.nodes;
  const start = (nodes ?? []).find((n) => n.data?.["type"] === "start" && !n.parentId);
  const variables = (start?.data?.["variables"] as Array<Record<string, unknown>> | undefined) ?? [];
  return variables
    .filter((v) => typeof v?.["variable"] === "string")
    .map((v) => ({
      variable: v["variable"],
      label: typeof v["label"] === "string" && v["label"] !== "" ? v["label"] : v["variable"],
      type: typeof v["type"] === "string" ? v["type"] : "text-input",
      required: v["required"] === true,
      options: Array.isArray(v["options"]) ? v["options"].map(String) : [],
      max_length: typeof v["max_length"] === "number" ? v["max_length"] : null,
      default: v["default"] ?? null,
    }));
}

function accessView(key: AccessKeyRow, now: number) {
  return {
    type: key.type,
    status: accessKeyStatus(key, now),
    remaining_uses: key.maxUseCount === null ? null : Math.max(0, key.maxUseCount - key.useCount),
    remaining_credits: key.maxCredits === null ? null : Math.max(0, key.maxCredits - key.usedCredits),
    expire_time: key.expireTimeText ?? (key.expireAt === null ? null : new Date(key.expireAt).toISOString()),
  };
}

export function registerVappRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const now = () => (deps.now ?? Date.now)();
  const pingIntervalMs = deps.pingIntervalMs ?? 10_000;

  const errorPage = (c: Context<AppEnv>, status: 400 | 403 | 404, title: string, message: string) =>
    c.html(renderErrorPage(title, message), status, PAGE_HEADERS);

  async function pageFor(c: Context<AppEnv>, appRow: AppRow, key: AccessKeyRow): Promise<Response> {
    const version = appRow.currentVersionId ? await deps.store.getWorkflowVersion(appRow.currentVersionId) : undefined;
    if (!version) return errorPage(c, 404, "App not available", "This app has no workflow to run yet. Try again later.");
    const images = appRow.images.map((img) => (/^https?:\/\//i.test(img) ? img : deps.files.signer.sign(img)));
    return c.html(
      renderPage({
        title: appRow.name,
        description: appRow.description,
        images,
        config: { api: `/public/v-app/${appRow.id}/api`, inputs: formOf(version.dsl), access: accessView(key, now()) },
      }),
      200,
      PAGE_HEADERS,
    );
  }

  /** The session of the cookie, valid for this app; null when there is none. */
  async function sessionOf(c: Context<AppEnv>, appId: string): Promise<Session | null> {
    const cookie = getCookie(c, COOKIE);
    if (!cookie) return null;
    const row = await deps.store.getVappSession(sha256(cookie), now());
    if (!row || row.appId !== appId) return null;
    const [appRow, accessKey] = await Promise.all([deps.store.getApp(appId), deps.store.getAccessKeyById(row.accessKeyId)]);
    if (!appRow || !accessKey) return null;
    return { row, app: appRow, accessKey };
  }

  /** The page API's guard: a session for this app, and (for writes) a same-origin script request. */
  async function requireSession(c: Context<AppEnv>, write: boolean): Promise<Session> {
    if (write) {
      // SameSite=Strict already keeps the cookie off cross-site requests; a custom header
      // cannot be sent cross-origin without a CORS preflight this server never grants.
      if (c.req.header("x-vapp-request") !== "1") {
        throw new ApiError(403, "forbidden", "Requests to the VApp page API must come from the page itself.");
      }
    }
    const session = await sessionOf(c, pathParam(c, "app_id"));
    if (!session) {
      throw new ApiError(
        401,
        "unauthorized",
        "Your session has ended. Open the link you were given again (or ask for a new one).",
      );
    }
    return session;
  }

  const serveAsset = (asset: PageAsset) => (c: Context<AppEnv>) =>
    c.body(asset.body, 200, {
      "Content-Type": asset.contentType,
      "Cache-Control": "public, max-age=31536000, immutable",
      "X-Content-Type-Options": "nosniff",
    });
  app.get("/public/v-app/assets/vapp.js", serveAsset(PAGE_SCRIPT));
  app.get("/public/v-app/assets/vapp.css", serveAsset(PAGE_STYLE));

  defineRoute(
    app,
    {
      method: "get",
      path: "/public/v-app/{app_id}",
      tags: ["VApp"],
      summary: "The public VApp page, opened from a link made with the SDK's generate_vapp_url",
      description:
        "Checks `token` (AES-CBC with the Open API key named by `key_id`) and answers the page with a session cookie. " +
        "Bad, tampered or expired links get a plain error page (400/403/404).",
      request: {
        params: z.object({ app_id: z.string() }),
        query: z.object({ token: z.string().optional(), key_id: z.string().optional() }),
      },
      responses: {
        200: { description: "The page (text/html)." },
        400: { description: "Incomplete link." },
        403: { description: "Link not valid or expired." },
        404: { description: "App not available." },
      },
    },
    async (c) => {
      const appId = pathParam(c, "app_id");
      const token = c.req.query("token");
      const keyId = c.req.query("key_id");
      if (token === undefined && keyId === undefined) {
        // A reload after the page dropped the token from the address bar.
        const session = await sessionOf(c, appId);
        if (session) return pageFor(c, session.app, session.accessKey);
      }
      const verdict = await verifyVappLink(deps.store, { appId, token, keyId }, now());
      if (!verdict.ok) return errorPage(c, verdict.status, verdict.title, verdict.message);

      const secret = randomBytes(32).toString("base64url");
      const at = now();
      await deps.store.deleteExpiredVappSessions(at).catch(() => 0);
      await deps.store.createVappSession({
        idHash: sha256(secret),
        appId,
        accessKeyId: verdict.accessKey.id,
        expiresAt: at + SESSION_TTL_MS,
        createdAt: at,
      });
      const secure = new URL(c.req.url).protocol === "https:" || (deps.config.publicUrl ?? "").startsWith("https:");
      setCookie(c, COOKIE, secret, {
        httpOnly: true,
        sameSite: "Strict",
        secure,
        path: `/public/v-app/${appId}`,
        maxAge: Math.floor(SESSION_TTL_MS / 1000),
      });
      return pageFor(c, verdict.app, verdict.accessKey);
    },
  );

  app.get("/public/v-app/:app_id/api/state", async (c) => {
    const session = await requireSession(c, false);
    return c.json({ access: accessView(session.accessKey, now()) }, 200, { "Cache-Control": "no-store" });
  });

  app.post("/public/v-app/:app_id/api/upload", async (c) => {
    const session = await requireSession(c, true);
    let received: Awaited<ReturnType<typeof receiveUpload>>;
    try {
      received = await receiveUpload(c.req.raw, deps.files.storage, deps.files.uploadPolicy);
    } catch (error) {
      if (error instanceof UploadError) throw new ApiError(error.status as 400, error.code, error.message);
      throw error;
    }
    try {
      const row = await deps.store.createFile({
        id: randomUUID(),
        appId: session.app.id,
        name: received.name,
        size: received.stored.size,
        extension: received.extension,
        mimeType: received.mimeType,
        storageKey: received.stored.storageKey,
      });
      return c.json({ upload_file_id: row.id, name: row.name, size: row.size, mime_type: row.mimeType }, 201);
    } catch (error) {
      await deps.files.storage.delete(received.stored.storageKey).catch(() => {});
      throw error;
    }
  });

  app.post("/public/v-app/:app_id/api/runs", async (c) => {
    const session = await requireSession(c, true);
    const body = parseWith(runBody, await readJsonBody(c, deps.config.maxBodyBytes));
    const appRow = session.app;
    const version = appRow.currentVersionId ? await deps.store.getWorkflowVersion(appRow.currentVersionId) : undefined;
    if (!version || !appRow.enabled) throw new ApiError(404, "not_found", "This app is not available any more.");
    let run: RunRow;
    try {
      run = await startOpenApiRun(deps, {
        app: appRow,
        version,
        inputs: body.inputs,
        owner: session.accessKey.owner,
        source: "vapp",
        apiKeyId: null,
        accessKey: session.accessKey,
        outputScope: "output_fields_only",
        // Recorded the way the Open API addresses inputs, so run records read the same.
        inputFields: Object.entries(body.inputs).map(([variable, value]) => {
          const address = describeInputs(version.dsl).find((i) => i.variable === variable);
          return { node_id: address?.node_id ?? "start", field_name: address?.field_name ?? variable, value };
        }),
        responseMode: "async",
      });
    } catch (error) {
      if (error instanceof AccessKeyRefusedError) throw new ApiError(403, "access_key_refused", error.message);
      throw error;
    }
    const key = (await deps.store.getAccessKeyById(session.accessKey.id)) ?? session.accessKey;
    return c.json({ run_id: run.id, access: accessView(key, now()) }, 201);
  });

  app.get("/public/v-app/:app_id/api/runs/:run_id/events", async (c) => {
    const session = await requireSession(c, false);
    const runId = pathParam(c, "run_id");
    const entry = await deps.store.getOpenApiRun(runId);
    if (!entry || entry.meta.accessKeyId !== session.accessKey.id || entry.meta.appId !== session.app.id) {
      throw new ApiError(404, "not_found", "Run not found: it was not started from this page's session.");
    }
    const controller = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => controller.abort(), { once: true });
    const frames = progressFrames(deps, entry.run, session.accessKey.id, controller.signal);
    return new Response(sseBody(frames, { pingIntervalMs, onCancel: () => controller.abort() }), { headers: SSE_HEADERS });
  });

  /** The page's view of a run: top-level nodes starting and finishing, streamed text, then the result. */
  async function* progressFrames(deps: AppDeps, run: RunRow, accessKeyId: string, signal: AbortSignal): AsyncGenerator<string> {
    try {
      for await (const { event } of deps.runs.subscribe(run.id, 0, signal)) {
        switch (event.type) {
          case "node_started":
            if (event.execution.iterationId || event.execution.loopId) break;
            yield sseFrame({
              type: "node_started",
              execution_id: event.execution.id,
              node_id: event.execution.nodeId,
              node_type: event.execution.nodeType,
              title: event.execution.title,
            });
            break;
          case "node_finished":
            if (event.execution.iterationId || event.execution.loopId) break;
            yield sseFrame({ type: "node_finished", execution_id: event.execution.id, status: event.status, error: event.error });
            break;
          case "text_chunk":
            yield sseFrame({ type: "text", text: event.text });
            break;
          case "workflow_finished": {
            const finished = await deps.runs.waitForFinish(run.id, signal);
            const version = await deps.store.getWorkflowVersion(finished.workflowId);
            const key = await deps.store.getAccessKeyById(accessKeyId);
            yield sseFrame({
              type: "finished",
              status: finished.status,
              error: finished.error,
              outputs: outputsJson(finished, version?.dsl, "output_fields_only", [], "object"),
              access: key ? accessView(key, now()) : null,
            });
            return;
          }
          default:
            break;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      deps.logger.error({ err: error, runId: run.id }, "VApp progress stream failed");
      yield sseFrame({ type: "error", message: "The progress stream broke off. Reload the page; your run carries on." });
    }
  }
}

/**
 * App description endpoints: `/info`, `/parameters` (the input form from the start node),
 * `/site`, `/meta`, `/end-users/{id}`, and the unauthenticated `/v1` index.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../http/context.js";
import { ApiError } from "../http/errors.js";
import { defineRoute, pathParam } from "../http/route.js";
import type { AppRow, JsonObject } from "../store/types.js";
import { appKeyAuth } from "./auth.js";
import { errorResponses, idParam, infoSchema, jsonContent, parametersSchema } from "./schemas.js";
import { endUserDetail } from "./wire.js";

const MB = 1024 * 1024;
export const SERVER_VERSION = "0.1.0";

/** Dify's default when a workflow configures no file upload feature. */
const DEFAULT_FILE_UPLOAD = {
  image: { enabled: false, number_limits: 3, detail: "high", transfer_methods: ["remote_url", "local_file"] },
};

async function currentDsl(deps: AppDeps, app: AppRow): Promise<JsonObject> {
  const version = app.currentVersionId ? await deps.store.getWorkflowVersion(app.currentVersionId) : undefined;
  if (!version) {
    throw new ApiError(
      400,
      "app_unavailable",
      "App unavailable: it has no published workflow yet. Publish one with the admin API first.",
    );
  }
  return version.dsl;
}

type Node = { id?: unknown; parentId?: unknown; data?: Record<string, unknown> };

/** Dify's `user_input_form`: one `{<type>: variable}` per start-node variable ("old structure"). */
export function userInputForm(dsl: JsonObject): Record<string, Record<string, unknown>>[] {
  const graph = (dsl["workflow"] as { graph?: { nodes?: Node[] } } | undefined)?.graph;
  const start = (graph?.nodes ?? []).find((n) => n.data?.["type"] === "start" && !n.parentId);
  const variables = (start?.data?.["variables"] as Record<string, unknown>[] | undefined) ?? [];
  return variables
    .filter((v) => typeof v === "object" && v !== null && typeof v["variable"] === "string")
    .map((v) => {
      const type = typeof v["type"] === "string" ? v["type"] : "text-input";
      const entry: Record<string, unknown> = { ...v };
      entry["label"] ??= v["variable"];
      entry["required"] ??= false;
      // Dify's own form config always carries a default (an empty string when none is set).
      entry["default"] ??= "";
      return { [type]: entry };
    });
}

function features(dsl: JsonObject): Record<string, unknown> {
  const f = (dsl["workflow"] as { features?: unknown } | undefined)?.features;
  return f && typeof f === "object" && !Array.isArray(f) ? (f as Record<string, unknown>) : {};
}

function siteOf(app: AppRow): Record<string, unknown> {
  const icon = app.icon;
  return {
    title: app.name,
    chat_color_theme: null,
    chat_color_theme_inverted: false,
    icon_type: icon?.type ?? null,
    icon: icon?.type === "emoji" ? icon.value : null,
    icon_background: icon?.background ?? null,
    icon_url: icon && icon.type !== "emoji" ? icon.value : null,
    description: app.description,
    copyright: null,
    privacy_policy: null,
    custom_disclaimer: "",
    default_language: "en-US",
    show_workflow_steps: true,
    use_icon_as_answer_icon: false,
  };
}

export function registerAppRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const auth = appKeyAuth(deps.store, deps.now);
  const common = { tags: ["App"], security: [{ Bearer: [] }] };

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1",
      tags: ["App"],
      summary: "Service API index",
      responses: {
        200: jsonContent(z.object({ welcome: z.string(), api_version: z.string(), server_version: z.string() }), "Index."),
      },
    },
    (c) => c.json({ welcome: "Tributary Service API (Dify-compatible)", api_version: "v1", server_version: SERVER_VERSION }),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/info",
      ...common,
      summary: "App name, description and tags",
      responses: { 200: jsonContent(infoSchema, "App info."), ...errorResponses },
    },
    auth,
    (c) => {
      const a = c.get("app");
      return c.json({ name: a.name, description: a.description, tags: a.tags, mode: "workflow" as const, author_name: "" });
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/parameters",
      ...common,
      summary: "Input form and upload settings",
      responses: { 200: jsonContent(parametersSchema, "Parameters."), ...errorResponses },
    },
    auth,
    async (c) => {
      const dsl = await currentDsl(deps, c.get("app"));
      const f = features(dsl);
      const up = deps.config.uploads;
      return c.json({
        opening_statement: f["opening_statement"] ?? null,
        suggested_questions: f["suggested_questions"] ?? [],
        suggested_questions_after_answer: f["suggested_questions_after_answer"] ?? { enabled: false },
        speech_to_text: f["speech_to_text"] ?? { enabled: false },
        text_to_speech: f["text_to_speech"] ?? { enabled: false },
        retriever_resource: f["retriever_resource"] ?? { enabled: false },
        annotation_reply: f["annotation_reply"] ?? { enabled: false },
        more_like_this: f["more_like_this"] ?? { enabled: false },
        user_input_form: userInputForm(dsl),
        sensitive_word_avoidance: f["sensitive_word_avoidance"] ?? { enabled: false, type: "", configs: [] },
        file_upload: f["file_upload"] ?? DEFAULT_FILE_UPLOAD,
        system_parameters: {
          file_size_limit: Math.floor(up.fileBytes / MB),
          image_file_size_limit: Math.floor(up.imageBytes / MB),
          audio_file_size_limit: Math.floor(up.audioBytes / MB),
          video_file_size_limit: Math.floor(up.videoBytes / MB),
          workflow_file_upload_limit: up.workflowFileUploadLimit,
        },
      });
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/site",
      ...common,
      summary: "Web app settings",
      responses: { 200: jsonContent(z.record(z.string(), z.unknown()), "Site."), ...errorResponses },
    },
    auth,
    (c) => c.json(siteOf(c.get("app"))),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/meta",
      ...common,
      summary: "Tool icons used by the app",
      responses: { 200: jsonContent(z.object({ tool_icons: z.record(z.string(), z.unknown()) }), "Meta."), ...errorResponses },
    },
    auth,
    (c) => c.json({ tool_icons: {} }),
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/v1/end-users/{end_user_id}",
      ...common,
      summary: "An end user of this app",
      request: { params: idParam("end_user_id", "End user id (e.g. created_by of an upload).") },
      responses: { 200: jsonContent(z.record(z.string(), z.unknown()), "End user."), ...errorResponses },
    },
    auth,
    async (c) => {
      const user = await deps.store.getEndUser(pathParam(c, "end_user_id"));
      if (!user || user.appId !== c.get("app").id) {
        throw new ApiError(
          404,
          "end_user_not_found",
          "End user not found. Use an end user id returned by this app (e.g. created_by of an upload).",
        );
      }
      return c.json(endUserDetail(user));
    },
  );
}

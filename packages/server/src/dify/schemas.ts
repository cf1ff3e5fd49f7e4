/**
 * Zod schemas of the Dify Workflow App API boundary: they validate requests and describe
 * requests and responses in the OpenAPI document. Field names are Dify's.
 */
import { z } from "@hono/zod-openapi";

export const errorSchema = z
  .object({
    code: z.string().openapi({ example: "invalid_param" }),
    message: z.string(),
    status: z.number().int(),
    params: z.string().optional(),
  })
  .openapi("Error");

export const fileInputSchema = z
  .object({
    type: z.enum(["image", "document", "audio", "video", "custom"]).optional(),
    transfer_method: z.enum(["local_file", "remote_url", "tool_file"]),
    upload_file_id: z.string().optional(),
    url: z.string().optional(),
  })
  .passthrough()
  .openapi("FileInput");

export const runRequestSchema = z
  .looseObject({
    inputs: z.record(z.string(), z.unknown(), {
      error: 'inputs is required and must be a JSON object of input values, e.g. {"inputs": {"query": "hello"}}.',
    }),
    user: z.union([z.string(), z.number()]).openapi({ description: "End-user identifier, unique within the app." }),
    response_mode: z
      .enum(["blocking", "streaming", "async"], {
        error: 'response_mode must be "blocking", "streaming" or "async".',
      })
      .nullish()
      .openapi({ description: "blocking (default), streaming (SSE) or async (202, then poll)." }),
    files: z
      .array(z.record(z.string(), z.unknown()), { error: "files must be a list of file objects." })
      .nullish()
      .openapi({ description: "`sys.files`: file objects like the file inputs." }),
  })
  .openapi("WorkflowRunRequest");

export const userBodySchema = z.looseObject({ user: z.union([z.string(), z.number()]) }).openapi("UserPayload");

export const finishedDataSchema = z
  .object({
    id: z.string(),
    workflow_id: z.string(),
    status: z.enum(["running", "succeeded", "failed", "stopped", "partial-succeeded"]),
    outputs: z.record(z.string(), z.unknown()),
    error: z.string().nullable(),
    elapsed_time: z.number(),
    total_tokens: z.number().int(),
    total_steps: z.number().int(),
    created_at: z.number().int(),
    finished_at: z.number().int().nullable(),
  })
  .openapi("WorkflowRunData");

export const blockingResponseSchema = z
  .object({ task_id: z.string(), workflow_run_id: z.string(), data: finishedDataSchema })
  .openapi("WorkflowBlockingResponse");

export const asyncResponseSchema = z
  .object({ task_id: z.string(), workflow_run_id: z.string() })
  .openapi("WorkflowAsyncResponse");

export const runDetailSchema = z
  .object({
    id: z.string(),
    workflow_id: z.string(),
    status: z.string(),
    inputs: z.string().openapi({ description: "JSON text of the run's inputs, including sys.* values." }),
    outputs: z.record(z.string(), z.unknown()),
    error: z.string().nullable(),
    total_steps: z.number().int(),
    total_tokens: z.number().int(),
    created_at: z.number().int(),
    finished_at: z.number().int().nullable(),
    elapsed_time: z.number(),
  })
  .openapi("WorkflowRunDetail");

export const nodeExecutionSchema = z
  .object({
    id: z.string(),
    node_id: z.string(),
    node_type: z.string(),
    title: z.string(),
    index: z.number().int(),
    predecessor_node_id: z.string().nullable(),
    inputs: z.record(z.string(), z.unknown()).nullable(),
    process_data: z.record(z.string(), z.unknown()).nullable(),
    outputs: z.record(z.string(), z.unknown()).nullable(),
    status: z.string(),
    error: z.string().nullable(),
    elapsed_time: z.number().nullable(),
    execution_metadata: z.record(z.string(), z.unknown()),
    created_at: z.number().int(),
    finished_at: z.number().int().nullable(),
  })
  .passthrough()
  .openapi("NodeExecution");

export const logsQuerySchema = z.object({
  keyword: z.string().optional(),
  status: z
    .enum(["running", "succeeded", "failed", "stopped", "partial-succeeded"], {
      error: "status must be one of succeeded, failed, stopped, running, partial-succeeded.",
    })
    .optional(),
  page: z.coerce
    .number({ error: "page must be a whole number from 1 to 99999." })
    .int("page must be a whole number from 1 to 99999.")
    .min(1, "page must be a whole number from 1 to 99999.")
    .max(99999, "page must be a whole number from 1 to 99999.")
    .default(1),
  limit: z.coerce
    .number({ error: "limit must be a whole number from 1 to 100." })
    .int("limit must be a whole number from 1 to 100.")
    .min(1, "limit must be a whole number from 1 to 100.")
    .max(100, "limit must be a whole number from 1 to 100.")
    .default(20),
  created_at__before: z.string().optional().openapi({ description: "ISO 8601 time; runs created at or before it." }),
  created_at__after: z.string().optional().openapi({ description: "ISO 8601 time; runs created at or after it." }),
  created_by_end_user_session_id: z.string().optional(),
  created_by_account: z.string().optional(),
});

export const logEntrySchema = z
  .object({
    id: z.string(),
    workflow_run: z.object({
      id: z.string(),
      version: z.string().nullable(),
      status: z.string(),
      error: z.string().nullable(),
      elapsed_time: z.number(),
      total_tokens: z.number().int(),
      total_steps: z.number().int(),
      created_at: z.number().int(),
      finished_at: z.number().int().nullable(),
      exceptions_count: z.number().int(),
      triggered_from: z.string(),
    }),
    created_from: z.string(),
    created_by_role: z.string(),
    created_by_account: z.null(),
    created_by_end_user: z
      .object({ id: z.string(), type: z.string(), is_anonymous: z.boolean(), session_id: z.string() })
      .nullable(),
    created_at: z.number().int(),
  })
  .openapi("WorkflowLog");

export const logsResponseSchema = z
  .object({
    page: z.number().int(),
    limit: z.number().int(),
    total: z.number().int(),
    has_more: z.boolean(),
    data: z.array(logEntrySchema),
  })
  .openapi("WorkflowLogPage");

export const fileResponseSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    size: z.number().int(),
    extension: z.string(),
    mime_type: z.string(),
    created_by: z.string().nullable(),
    created_at: z.number().int(),
    preview_url: z.string().nullable(),
    source_url: z.string(),
  })
  .passthrough()
  .openapi("UploadedFile");

export const infoSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    tags: z.array(z.string()),
    mode: z.literal("workflow"),
    author_name: z.string(),
  })
  .openapi("AppInfo");

export const parametersSchema = z
  .object({
    user_input_form: z.array(z.record(z.string(), z.record(z.string(), z.unknown()))),
    file_upload: z.record(z.string(), z.unknown()),
    system_parameters: z.object({
      file_size_limit: z.number().int(),
      image_file_size_limit: z.number().int(),
      audio_file_size_limit: z.number().int(),
      video_file_size_limit: z.number().int(),
      workflow_file_upload_limit: z.number().int(),
    }),
  })
  .passthrough()
  .openapi("AppParameters");

export const idParam = (name: string, description: string) =>
  z.object({ [name]: z.string().openapi({ param: { name, in: "path" }, description }) });

export const jsonContent = <S extends z.ZodType>(schema: S, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const errorResponses = {
  400: jsonContent(errorSchema, "Invalid request (`invalid_param`, `bad_request`, …)."),
  401: jsonContent(errorSchema, "Missing or invalid API key."),
  403: jsonContent(errorSchema, "The app is disabled."),
  404: jsonContent(errorSchema, "Not found (or belongs to another app)."),
} as const;

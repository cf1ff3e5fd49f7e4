/**
 * @tributary/sdk: typed clients for Tributary's two wire protocols. Runs wherever `fetch`,
 * Web Crypto and `AbortSignal` exist (Node.js 20+, browsers); its only dependency is
 * eventsource-parser.
 */
export {
  DifyWorkflowClient,
  type DifyWorkflowClientOptions,
  type ResumeOptions,
  type RunOptions,
  type StreamOptions,
  type UploadOptions,
  type UserOptions,
  type WaitOptions,
} from "./dify/client.js";
export { WorkflowStream } from "./dify/stream.js";
export type * from "./dify/types.js";
export { WORKFLOW_STREAM_EVENTS } from "./dify/types.js";
export * from "./errors.js";
export type { CallOptions, FetchLike, RetryPolicy } from "./transport.js";
export type { UploadFileOptions, UploadSource } from "./upload.js";
export {
  API_VERSION as VECTORVEIN_API_VERSION,
  type CheckStatusOptions,
  type CreateAccessKeysOptions,
  type CreateWorkflowOptions,
  type ListAccessKeysOptions,
  type ListRunRecordsOptions,
  type ListWorkflowsOptions,
  type RunWorkflowOptions,
  type UpdateAccessKeysOptions,
  type UpdateWorkflowOptions,
  VectorVeinClient,
  type VectorVeinClientOptions,
} from "./vectorvein/client.js";
export type {
  AccessKey,
  AccessKeyListResponse,
  AccessKeyStatus,
  AccessKeyType,
  APIUserIdentity,
  ApiKeyType,
  Envelope,
  FileUploadResult,
  OutputScope,
  UserInfo,
  VApp,
  Workflow,
  WorkflowInputField,
  WorkflowListResponse,
  WorkflowOutput,
  WorkflowRunRecord,
  WorkflowRunRecordList,
  WorkflowRunResult,
  WorkflowSummary,
  WorkflowTag,
} from "./vectorvein/types.js";
export { generateVappUrl, pythonQuote, type VappUrlOptions } from "./vectorvein/vapp-url.js";

/**
 * Table shapes as Kysely sees them (snake_case, JSON as TEXT, times as BIGINT epoch ms,
 * booleans as 0/1 integers). Both dialects store exactly these shapes so the same queries and
 * row mappers serve both; `row-mappers.ts` turns them into the camelCase rows of `types.ts`.
 */

export interface AppsTable {
  id: string;
  name: string;
  description: string;
  tags: string;
  icon: string | null;
  images: string;
  enabled: number;
  max_concurrency: number | null;
  current_version_id: string | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface WorkflowVersionsTable {
  id: string;
  app_id: string;
  version: number;
  dsl: string;
  source_text: string;
  source_format: string;
  created_at: number;
}

export interface AppApiKeysTable {
  id: string;
  app_id: string;
  key_hash: string;
  prefix: string;
  name: string | null;
  created_at: number;
  last_used_at: number | null;
}

export interface EndUsersTable {
  id: string;
  app_id: string;
  session_id: string;
  type: string;
  is_anonymous: number;
  created_at: number;
}

export interface RunsTable {
  id: string;
  task_id: string;
  app_id: string;
  workflow_id: string;
  end_user_id: string | null;
  status: string;
  inputs: string;
  outputs: string | null;
  error: string | null;
  error_code: string | null;
  response_mode: string;
  triggered_from: string;
  owner: string | null;
  idempotency_key: string | null;
  idempotency_body_hash: string | null;
  total_tokens: number;
  total_price: number;
  currency: string;
  total_steps: number;
  exceptions_count: number;
  elapsed_ms: number;
  created_at: number;
  finished_at: number | null;
}

export interface RunEventsTable {
  run_id: string;
  seq: number;
  type: string;
  payload: string;
  created_at: number;
}

export interface NodeExecutionsTable {
  run_id: string;
  id: string;
  node_id: string;
  node_type: string;
  title: string;
  execution_index: number;
  predecessor_node_id: string | null;
  iteration_id: string | null;
  iteration_index: number | null;
  loop_id: string | null;
  loop_index: number | null;
  status: string;
  inputs: string | null;
  process_data: string | null;
  outputs: string | null;
  error: string | null;
  error_type: string | null;
  retry_count: number;
  elapsed_ms: number | null;
  metadata: string | null;
  created_at: number;
  finished_at: number | null;
}

export interface UploadedFilesTable {
  id: string;
  app_id: string | null;
  end_user_id: string | null;
  name: string;
  size: number;
  extension: string;
  mime_type: string;
  storage_key: string;
  created_at: number;
}

export interface ProviderCredentialsTable {
  provider: string;
  /** `credentials-cipher.ts` envelope; never the plaintext. */
  ciphertext: string;
  /** Fingerprint of the key that encrypted the row, to tell "wrong key" from "corrupt row". */
  key_id: string;
  created_at: number;
  updated_at: number;
}

export interface OpenApiKeysTable {
  id: string;
  owner: string;
  name: string | null;
  prefix: string;
  /** Hex SHA-256 of the secret, for lookup by the presented key. */
  key_hash: string;
  /** `credentials-cipher.ts` envelope of the secret (VApp links need it as their AES key). */
  ciphertext: string;
  cipher_key_id: string;
  rate_limit_per_minute: number | null;
  created_at: number;
  last_used_at: number | null;
}

export interface VappAccessKeysTable {
  id: string;
  access_key: string;
  owner: string;
  access_key_type: string;
  access_scope: string;
  status: string;
  use_count: number;
  max_use_count: number | null;
  max_credits: number | null;
  used_credits: number;
  description: string;
  expire_at: number | null;
  expire_time_text: string | null;
  created_at: number;
  last_use_at: number | null;
}

export interface VappAccessKeyAppsTable {
  access_key_id: string;
  app_id: string;
  /** Insertion order of the key's apps. */
  position: number;
}

export interface VappAccessKeyRecordsTable {
  id: string;
  access_key_id: string;
  /** Empty until the run exists; no foreign key, so the record outlives a deleted run. */
  run_id: string;
  app_id: string;
  credits: number;
  created_at: number;
}

export interface OpenApiRunsTable {
  run_id: string;
  owner: string;
  app_id: string;
  source: string;
  api_key_id: string | null;
  access_key_id: string | null;
  output_scope: string;
  input_fields: string;
  created_at: number;
}

export interface OpenApiWorkflowsTable {
  app_id: string;
  language: string;
  tool_call_data: string;
  source_workflow: string | null;
  credits_per_run: number;
  credits_per_1k_tokens: number;
  updated_at: number;
}

export interface VappSessionsTable {
  id_hash: string;
  app_id: string;
  access_key_id: string;
  expires_at: number;
  created_at: number;
}

export interface Database {
  apps: AppsTable;
  workflow_versions: WorkflowVersionsTable;
  app_api_keys: AppApiKeysTable;
  end_users: EndUsersTable;
  runs: RunsTable;
  run_events: RunEventsTable;
  node_executions: NodeExecutionsTable;
  uploaded_files: UploadedFilesTable;
  provider_credentials: ProviderCredentialsTable;
  open_api_keys: OpenApiKeysTable;
  vapp_access_keys: VappAccessKeysTable;
  vapp_access_key_apps: VappAccessKeyAppsTable;
  vapp_access_key_records: VappAccessKeyRecordsTable;
  open_api_runs: OpenApiRunsTable;
  open_api_workflows: OpenApiWorkflowsTable;
  vapp_sessions: VappSessionsTable;
}

/** Talking to a benchmark's server: publishing an app with a key, and runs in each response mode. */

export interface PublishedApp {
  appId: string;
  workflowId: string;
  key: string;
}

async function expectJson<T>(response: Response, status: number, what: string): Promise<T> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`${what} failed: ${response.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

export async function publishApp(url: string, adminToken: string, dsl: unknown): Promise<PublishedApp> {
  const auth = { Authorization: `Bearer ${adminToken}` };
  const created = await expectJson<{ app_id: string; workflow_id: string }>(
    await fetch(`${url}/api/admin/apps`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify(dsl),
    }),
    201,
    "creating the app",
  );
  const { key } = await expectJson<{ key: string }>(
    await fetch(`${url}/api/admin/apps/${created.app_id}/api-keys`, { method: "POST", headers: auth }),
    201,
    "creating the app key",
  );
  return { appId: created.app_id, workflowId: created.workflow_id, key };
}

export function runBody(inputs: Record<string, unknown>, mode: "blocking" | "streaming" | "async", user = "bench"): string {
  return JSON.stringify({ inputs, user, response_mode: mode });
}

export function runHeaders(key: string): Record<string, string> {
  return { Authorization: `Bearer ${key}`, "Content-Type": "application/json" };
}

/** One blocking run; throws unless it succeeded. */
export async function blockingRun(url: string, key: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
  const body = await expectJson<{ data: { status: string; outputs: Record<string, unknown>; error?: string } }>(
    await fetch(`${url}/v1/workflows/run`, { method: "POST", headers: runHeaders(key), body: runBody(inputs, "blocking") }),
    200,
    "a blocking run",
  );
  if (body.data.status !== "succeeded") throw new Error(`the run ${body.data.status}: ${body.data.error ?? ""}`);
  return body.data.outputs;
}

/**
 * Live node-by-node progress of a streamed run, on stderr (stdout carries the result). On a
 * terminal a spinner line shows what is running and finished nodes scroll above it; anywhere
 * else (pipes, CI logs) each event is one plain line.
 */
import type { WorkflowStreamEvent } from "@tributary/sdk";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

interface Running {
  title: string;
  type: string;
  startedAt: number;
}

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

function seconds(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)}s`;
}

export class RunProgress {
  readonly #out: ProgressSink;
  readonly #tty: boolean;
  readonly #running = new Map<string, Running>();
  #frame = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #spinnerShown = false;

  constructor(out: ProgressSink) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  start(): void {
    if (!this.#tty) return;
    this.#timer = setInterval(() => this.#drawSpinner(), 80);
    this.#timer.unref?.();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clearSpinner();
  }

  /** A line above the spinner (or a plain line). */
  line(text: string): void {
    this.#clearSpinner();
    this.#out.write(`${text}\n`);
    this.#drawSpinner();
  }

  onEvent(event: WorkflowStreamEvent): void {
    switch (event.event) {
      case "workflow_started":
        this.line(`run ${event.workflow_run_id} started (task ${event.task_id})`);
        return;
      case "node_started": {
        const d = event.data;
        this.#running.set(d.id, { title: d.title, type: d.node_type, startedAt: Date.now() });
        if (!this.#tty) this.line(`${this.#indent(d.iteration_id ?? d.loop_id)}▶ ${d.title} (${d.node_type})`);
        return;
      }
      case "node_retry": {
        const d = event.data;
        this.line(
          `${this.#indent(d.iteration_id ?? d.loop_id)}↻ ${d.title}: retry ${d.retry_index} after ${d.error ?? "an error"}`,
        );
        return;
      }
      case "node_finished": {
        const d = event.data;
        this.#running.delete(d.id);
        const pad = this.#indent(d.iteration_id ?? d.loop_id);
        const time = seconds(d.elapsed_time);
        if (d.status === "succeeded") this.line(`${pad}✓ ${d.title} ${time}`);
        else if (d.status === "exception") this.line(`${pad}! ${d.title} ${time} (handled: ${d.error ?? "error"})`);
        else this.line(`${pad}✗ ${d.title} ${d.status}${d.error ? `: ${d.error}` : ""}`);
        return;
      }
      case "iteration_next":
      case "loop_next":
        if (!this.#tty) this.line(`  ${event.data.title} #${event.data.index + 1}`);
        return;
      case "workflow_finished": {
        const d = event.data;
        this.line(
          `run ${d.status} in ${seconds(d.elapsed_time)} (${d.total_steps} steps, ${d.total_tokens} tokens)${d.error ? `: ${d.error}` : ""}`,
        );
        return;
      }
      case "error":
        this.line(`stream error ${event.code}: ${event.message}`);
        return;
      default:
        return;
    }
  }

  #indent(containerId: string | null | undefined): string {
    return containerId ? "    " : "";
  }

  #spinnerText(): string {
    const now = Date.now();
    const running = [...this.#running.values()];
    const label =
      running.length === 0
        ? "waiting for the next event"
        : running.map((r) => `${r.title} (${r.type}) ${seconds((now - r.startedAt) / 1000)}`).join(", ");
    const text = `${FRAMES[this.#frame % FRAMES.length]} ${label}`;
    // A pty without a size (e.g. under `script`) reports 0 columns.
    const columns = this.#out.columns ?? 0;
    const width = columns >= 20 ? columns : 80;
    return text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text;
  }

  #drawSpinner(): void {
    if (!this.#tty || this.#timer === undefined) return;
    this.#frame++;
    this.#out.write(`\r\x1b[2K${this.#spinnerText()}`);
    this.#spinnerShown = true;
  }

  #clearSpinner(): void {
    if (!this.#spinnerShown) return;
    this.#out.write("\r\x1b[2K");
    this.#spinnerShown = false;
  }
}

/**
 * The VApp page's browser code. It is written here in TypeScript (type-checked with the
 * server) and served as a static ES module (`/public/v-app/assets/vapp.js`, see
 * page-assets.ts): no framework, no CDN, works offline. Because the function is sent as its
 * own source text, it must stay self-contained: no imports, nothing from outside its body.
 *
 * Safety: everything the server or a workflow returns is put on the page as text nodes or
 * through the small markdown renderer below, which builds elements and never parses HTML, so
 * an output containing `<script>` is shown, not run (and the page's CSP allows no inline
 * script anyway). The page's calls carry the HttpOnly session cookie; no key reaches it.
 */

// The few DOM APIs the page uses, declared for this module only: the server is compiled
// without the DOM library, and these declarations do not leak into it.
interface El {
  textContent: string | null;
  className: string;
  id: string;
  hidden: boolean;
  append(...nodes: Array<El | string>): void;
  replaceChildren(...nodes: Array<El | string>): void;
  setAttribute(name: string, value: string): void;
  addEventListener(type: string, listener: (event: DomEvent) => void): void;
}
interface FieldEl extends El {
  value: string;
  type: string;
  name: string;
  required: boolean;
  disabled: boolean;
  checked: boolean;
  multiple: boolean;
  files: { length: number; [index: number]: PickedFile | undefined } | null;
}
interface PickedFile {
  name: string;
  size: number;
}
interface DomEvent {
  preventDefault(): void;
}
interface FetchReply {
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
}
interface Stream {
  onmessage: ((event: { data: string }) => void) | null;
  onerror: (() => void) | null;
  close(): void;
}
declare const document: { getElementById(id: string): El | null; createElement(tag: string): El };
declare const history: { replaceState(data: unknown, unused: string, url: string): void };
declare const location: { pathname: string };
declare const EventSource: new (url: string) => Stream;
declare const FormData: new () => { append(name: string, value: unknown, filename?: string): void };
declare function fetch(
  url: string,
  init?: { method?: string; headers?: Record<string, string>; body?: unknown },
): Promise<FetchReply>;

export function vappPage(): void {
  type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
  interface InputSpec {
    variable: string;
    label: string;
    type: string;
    required: boolean;
    options: string[];
    max_length: number | null;
    default: Json;
  }
  interface Access {
    type: string;
    status: string;
    remaining_uses: number | null;
    remaining_credits: number | null;
    expire_time: string | null;
  }
  interface Config {
    api: string;
    inputs: InputSpec[];
    access: Access;
  }
  interface Output {
    type: string;
    title: string;
    value: Json;
  }
  type Frame =
    | { type: "node_started"; node_id: string; execution_id: string; title: string; node_type: string }
    | { type: "node_finished"; execution_id: string; status: string; error: string | null }
    | { type: "text"; text: string }
    | { type: "finished"; status: string; error: string | null; outputs: Output[]; access: Access }
    | { type: "error"; message: string };

  const byId = (id: string): El => {
    const el = document.getElementById(id);
    if (!el) throw new Error(`The page is missing #${id}.`);
    return el;
  };
  const make = (tag: string, className?: string, text?: string): El => {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  };

  const config = JSON.parse(byId("vapp-config").textContent ?? "{}") as Config;
  // The token has done its job (the session cookie now stands for it): keep it out of history.
  history.replaceState(null, "", location.pathname);

  const form = byId("vapp-form");
  const runButton = byId("vapp-run") as FieldEl;
  const message = byId("vapp-message");
  const progress = byId("vapp-progress");
  const live = byId("vapp-live");
  const outputs = byId("vapp-outputs");
  const accessBox = byId("vapp-access");
  let busy = false;
  let access = config.access;

  // ---------------------------------------------------------------- safe markdown rendering

  const SAFE_URL = /^(https?:\/\/|mailto:|\/(?!\/))/i;

  function link(href: string, text: string): El {
    if (!SAFE_URL.test(href.trim())) return make("span", "", text);
    const a = make("a", "", text);
    a.setAttribute("href", href.trim());
    a.setAttribute("rel", "noopener noreferrer nofollow");
    a.setAttribute("target", "_blank");
    return a;
  }

  /** Inline markdown: `code`, **bold**, *italic* / _italic_, [text](url); the rest is text. */
  function inline(text: string): Array<El | string> {
    const out: Array<El | string> = [];
    const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
    let last = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      if (m[1] !== undefined) out.push(make("code", "", m[1]));
      else if (m[2] !== undefined || m[3] !== undefined) {
        const strong = make("strong");
        strong.append(...inline(m[2] ?? m[3] ?? ""));
        out.push(strong);
      } else if (m[4] !== undefined || m[5] !== undefined) {
        const em = make("em");
        em.append(...inline(m[4] ?? m[5] ?? ""));
        out.push(em);
      } else if (m[6] !== undefined && m[7] !== undefined) out.push(link(m[7], m[6]));
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function tableRow(line: string): string[] {
    return line
      .trim()
      .replace(/^\|/, "")
      .replace(/\|$/, "")
      .split("|")
      .map((cell) => cell.trim());
  }

  /** Block markdown: headings, fenced code, lists, quotes, rules, tables, paragraphs. */
  function markdown(source: string): El {
    const root = make("div", "markdown");
    const lines = source.replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i] ?? "";
      if (line.trim() === "") {
        i++;
        continue;
      }
      const fence = /^\s*```/.exec(line);
      if (fence) {
        const code: string[] = [];
        i++;
        while (i < lines.length && !/^\s*```/.test(lines[i] ?? "")) code.push(lines[i++] ?? "");
        i++;
        const pre = make("pre");
        pre.append(make("code", "", code.join("\n")));
        root.append(pre);
        continue;
      }
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) {
        const h = make(`h${Math.min(6, (heading[1] ?? "#").length + 1)}`);
        h.append(...inline(heading[2] ?? ""));
        root.append(h);
        i++;
        continue;
      }
      if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        root.append(make("hr"));
        i++;
        continue;
      }
      const next = lines[i + 1] ?? "";
      if (line.includes("|") && /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(next)) {
        const table = make("table");
        const head = make("tr");
        for (const cell of tableRow(line)) {
          const th = make("th");
          th.append(...inline(cell));
          head.append(th);
        }
        const thead = make("thead");
        thead.append(head);
        const tbody = make("tbody");
        i += 2;
        while (i < lines.length && (lines[i] ?? "").includes("|") && (lines[i] ?? "").trim() !== "") {
          const tr = make("tr");
          for (const cell of tableRow(lines[i] ?? "")) {
            const td = make("td");
            td.append(...inline(cell));
            tr.append(td);
          }
          tbody.append(tr);
          i++;
        }
        table.append(thead, tbody);
        root.append(table);
        continue;
      }
      const bullet = /^\s*([-*+]|\d+[.)])\s+/;
      if (bullet.test(line)) {
        const ordered = /^\s*\d/.test(line);
        const list = make(ordered ? "ol" : "ul");
        while (i < lines.length && bullet.test(lines[i] ?? "")) {
          const li = make("li");
          li.append(...inline((lines[i] ?? "").replace(bullet, "")));
          list.append(li);
          i++;
        }
        root.append(list);
        continue;
      }
      if (/^\s*>/.test(line)) {
        const quote: string[] = [];
        while (i < lines.length && /^\s*>/.test(lines[i] ?? "")) quote.push((lines[i++] ?? "").replace(/^\s*>\s?/, ""));
        const block = make("blockquote");
        block.append(markdown(quote.join("\n")));
        root.append(block);
        continue;
      }
      const para = make("p");
      let first = true;
      while (i < lines.length && (lines[i] ?? "").trim() !== "" && !/^\s*(```|#{1,6}\s|>)/.test(lines[i] ?? "")) {
        if (!first) para.append(make("br"));
        para.append(...inline(lines[i] ?? ""));
        first = false;
        i++;
      }
      root.append(para);
    }
    return root;
  }

  // ---------------------------------------------------------------- outputs

  function isRecordList(value: Json): value is Array<{ [key: string]: Json }> {
    return (
      Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === "object" && v !== null && !Array.isArray(v))
    );
  }

  function cellText(value: Json | undefined): string {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function renderValue(output: Output): El {
    const value = output.value;
    if (output.type === "file") {
      const list = make("ul", "files");
      for (const file of Array.isArray(value) ? value : [value]) {
        const url =
          typeof file === "string" ? file : file && typeof file === "object" && !Array.isArray(file) ? file["url"] : null;
        if (typeof url !== "string") continue;
        const name =
          file && typeof file === "object" && !Array.isArray(file) && typeof file["filename"] === "string"
            ? file["filename"]
            : "file";
        const li = make("li");
        const a = link(url, `Download ${name}`);
        a.setAttribute("download", name);
        li.append(a);
        list.append(li);
      }
      return list;
    }
    if (isRecordList(value)) {
      const columns: string[] = [];
      for (const row of value) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
      const table = make("table");
      const head = make("tr");
      for (const c of columns) head.append(make("th", "", c));
      const thead = make("thead");
      thead.append(head);
      const tbody = make("tbody");
      for (const row of value) {
        const tr = make("tr");
        for (const c of columns) tr.append(make("td", "", cellText(row[c])));
        tbody.append(tr);
      }
      table.append(thead, tbody);
      return table;
    }
    if (typeof value === "string") {
      if (output.type === "text" || output.type === "markdown") return markdown(value);
      return make("pre", "", value);
    }
    if (typeof value === "number" || typeof value === "boolean") return make("p", "scalar", String(value));
    return make("pre", "json", JSON.stringify(value, null, 2));
  }

  function showOutputs(list: Output[]): void {
    outputs.replaceChildren();
    if (list.length === 0) outputs.append(make("p", "muted", "The run finished without outputs."));
    for (const output of list) {
      const section = make("section", "output");
      section.append(make("h3", "", output.title), renderValue(output));
      outputs.append(section);
    }
  }

  // ---------------------------------------------------------------- access key and form

  function showAccess(): void {
    const usable = access.status === "AC";
    const parts: string[] = [];
    if (!usable) {
      parts.push(
        access.status === "EX"
          ? "This access key has expired; ask for a new link to run the app again."
          : "This access key has no runs left; ask for a new link to run the app again.",
      );
    } else {
      if (access.remaining_uses !== null) parts.push(`Runs left: ${access.remaining_uses}`);
      if (access.remaining_credits !== null) parts.push(`Credits left: ${access.remaining_credits}`);
      if (access.expire_time) parts.push(`Valid until ${access.expire_time}`);
      if (parts.length === 0) parts.push("Unlimited runs");
    }
    accessBox.textContent = parts.join(" · ");
    accessBox.className = usable ? "access" : "access spent";
    runButton.disabled = busy || !usable;
  }

  function say(text: string, kind: "info" | "error" = "info"): void {
    message.textContent = text;
    message.className = `message ${kind}`;
    message.hidden = text === "";
  }

  const fields = new Map<string, { spec: InputSpec; el: FieldEl }>();

  function buildForm(): void {
    const box = byId("vapp-fields");
    for (const spec of config.inputs) {
      const row = make("div", "field");
      const label = make("label", "", spec.label + (spec.required ? " *" : ""));
      label.setAttribute("for", `in-${spec.variable}`);
      let el: FieldEl;
      switch (spec.type) {
        case "paragraph":
        case "json_object":
          el = make("textarea") as FieldEl;
          el.setAttribute("rows", "5");
          break;
        case "select": {
          el = make("select") as FieldEl;
          if (!spec.required) el.append(make("option", "", ""));
          for (const option of spec.options) {
            const o = make("option", "", option) as FieldEl;
            o.value = option;
            el.append(o);
          }
          break;
        }
        case "number":
          el = make("input") as FieldEl;
          el.type = "number";
          el.setAttribute("step", "any");
          break;
        case "checkbox":
          el = make("input") as FieldEl;
          el.type = "checkbox";
          break;
        case "file":
        case "file-list":
          el = make("input") as FieldEl;
          el.type = "file";
          el.multiple = spec.type === "file-list";
          break;
        default:
          el = make("input") as FieldEl;
          el.type = "text";
      }
      el.id = `in-${spec.variable}`;
      el.name = spec.variable;
      if (spec.required && spec.type !== "checkbox") el.required = true;
      if (spec.max_length) el.setAttribute("maxlength", String(spec.max_length));
      if (spec.type === "checkbox") el.checked = spec.default === true;
      else if (spec.type !== "file" && spec.type !== "file-list" && spec.default !== null && spec.default !== "") {
        el.value = typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default);
      }
      row.append(label, el);
      box.append(row);
      fields.set(spec.variable, { spec, el });
    }
  }

  async function call(
    path: string,
    init: { method?: string; body?: unknown; json?: unknown } = {},
  ): Promise<Record<string, Json>> {
    const headers: Record<string, string> = { "X-VApp-Request": "1" };
    let body = init.body;
    if (init.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(init.json);
    }
    const reply = await fetch(`${config.api}/${path}`, { method: init.method ?? "GET", headers, body });
    const data = (await reply.json().catch(() => ({}))) as Record<string, Json>;
    if (!reply.ok) {
      const text = typeof data["message"] === "string" ? data["message"] : `The server answered ${reply.status}.`;
      throw new Error(text);
    }
    return data;
  }

  async function collectInputs(): Promise<Record<string, Json>> {
    const inputs: Record<string, Json> = {};
    for (const { spec, el } of fields.values()) {
      if (spec.type === "checkbox") {
        inputs[spec.variable] = el.checked;
      } else if (spec.type === "file" || spec.type === "file-list") {
        const refs: Json[] = [];
        const picked = el.files;
        for (let i = 0; picked && i < picked.length; i++) {
          const file = picked[i];
          if (!file) continue;
          say(`Uploading ${file.name}…`);
          const data = new FormData();
          data.append("file", file, file.name);
          const uploaded = await call("upload", { method: "POST", body: data });
          refs.push({ type: "custom", transfer_method: "local_file", upload_file_id: uploaded["upload_file_id"] ?? null });
        }
        if (refs.length > 0) inputs[spec.variable] = spec.type === "file" ? (refs[0] ?? null) : refs;
      } else if (el.value !== "") {
        inputs[spec.variable] = spec.type === "number" ? Number(el.value) : el.value;
      }
    }
    return inputs;
  }

  // ---------------------------------------------------------------- running

  const steps = new Map<string, { item: El; title: string }>();

  function follow(runId: string): void {
    const stream = new EventSource(`${config.api}/runs/${encodeURIComponent(runId)}/events`);
    stream.onmessage = (event) => {
      const frame = JSON.parse(event.data) as Frame;
      switch (frame.type) {
        case "node_started": {
          const item = make("li", "step running");
          item.append(make("span", "step-title", frame.title), make("span", "step-status", "running"));
          item.setAttribute("data-node-type", frame.node_type);
          steps.set(frame.execution_id, { item, title: frame.title });
          progress.append(item);
          break;
        }
        case "node_finished": {
          const step = steps.get(frame.execution_id);
          if (!step) break;
          step.item.className = `step ${frame.status}`;
          step.item.replaceChildren(make("span", "step-title", step.title), make("span", "step-status", frame.status));
          if (frame.error) step.item.append(make("span", "step-error", frame.error));
          break;
        }
        case "text":
          live.hidden = false;
          live.append(frame.text);
          break;
        case "finished":
          stream.close();
          busy = false;
          live.hidden = true;
          access = frame.access;
          if (frame.status === "succeeded" || frame.status === "partial-succeeded") {
            say("Done.");
            showOutputs(frame.outputs);
          } else {
            say(`The run ${frame.status === "stopped" ? "was stopped" : "failed"}: ${frame.error ?? "no details"}`, "error");
          }
          showAccess();
          break;
        case "error":
          stream.close();
          busy = false;
          say(frame.message, "error");
          showAccess();
          break;
      }
    };
    stream.onerror = () => {
      // The server ends the stream after the final frame; only a stream cut short is an error.
      if (!busy) return;
      stream.close();
      busy = false;
      say("Lost the connection to the server while the app was running. Reload the page to see your remaining runs.", "error");
      showAccess();
    };
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    runButton.disabled = true;
    progress.replaceChildren();
    outputs.replaceChildren();
    live.replaceChildren();
    steps.clear();
    say("Starting…");
    collectInputs()
      .then((inputs) => call("runs", { method: "POST", json: { inputs } }))
      .then((started) => {
        const accessNow = started["access"];
        if (accessNow && typeof accessNow === "object" && !Array.isArray(accessNow)) access = accessNow as unknown as Access;
        say("Running…");
        showAccess();
        follow(String(started["run_id"]));
      })
      .catch((error: unknown) => {
        busy = false;
        say(error instanceof Error ? error.message : String(error), "error");
        runButton.disabled = access.status !== "AC";
      });
  });

  buildForm();
  showAccess();
}

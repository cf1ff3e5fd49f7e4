/**
 * The VApp page's static assets, built once at start-up: the browser module from
 * page-script.ts (its compiled source text) and the stylesheet. Both are served from this
 * server with a content hash in their URL, so the page needs nothing from any other origin.
 */
import { createHash } from "node:crypto";
import { vappPage } from "./page-script.js";

/**
 * Loaders that keep function names (tsx, esbuild's keepNames) call a `__name` helper inside
 * compiled functions; the served module defines a harmless one so its text runs as it is.
 */
const SCRIPT = `// Tributary VApp page (generated from src/vapp/page-script.ts)
const __name = (target) => target;
(${vappPage.toString()})();
`;

const STYLE = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #687083; --bg: #f6f7fb; --card: #fff; --line: #e1e4ec;
  --accent: #3451d1; --ok: #18794e; --bad: #c62a2f; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e7e9ef; --muted: #9aa1b2; --bg: #14161c; --card: #1d2029; --line: #2e3240; --accent: #8ea2ff; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.5; }
main { max-width: 860px; margin: 0 auto; padding: 32px 20px 64px; }
header h1 { margin: 0 0 8px; font-size: 1.8rem; }
header p.description { margin: 0 0 16px; color: var(--muted); white-space: pre-wrap; }
.images { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }
.images img { max-height: 160px; max-width: 100%; border-radius: 8px; border: 1px solid var(--line); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 20px; margin-top: 20px; }
.field { display: flex; flex-direction: column; gap: 6px; margin-bottom: 14px; }
.field label { font-weight: 600; }
input[type=text], input[type=number], textarea, select { font: inherit; padding: 8px 10px; border-radius: 8px;
  border: 1px solid var(--line); background: var(--bg); color: var(--fg); width: 100%; }
button { font: inherit; font-weight: 600; padding: 10px 22px; border: 0; border-radius: 8px; background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { opacity: .5; cursor: not-allowed; }
.access { color: var(--muted); margin: 10px 0 0; }
.access.spent { color: var(--bad); }
.message { margin: 12px 0 0; }
.message.error { color: var(--bad); }
ol.steps { list-style: none; padding: 0; margin: 0; }
.step { display: flex; gap: 12px; padding: 6px 0; border-bottom: 1px solid var(--line); }
.step-title { flex: 1; }
.step-status { font-size: .85rem; color: var(--muted); }
.step.succeeded .step-status { color: var(--ok); }
.step.failed .step-status, .step-error { color: var(--bad); }
.step-error { display: block; font-size: .85rem; }
pre { overflow-x: auto; padding: 12px; background: var(--bg); border-radius: 8px; border: 1px solid var(--line); white-space: pre-wrap; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
.output h3 { margin: 16px 0 8px; font-size: 1rem; color: var(--muted); }
.live { white-space: pre-wrap; }
.muted { color: var(--muted); }
.error-page { text-align: center; padding-top: 80px; }
`;

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

export interface PageAsset {
  /** URL path, with the content hash as a query string. */
  url: string;
  body: string;
  contentType: string;
}

export const PAGE_SCRIPT: PageAsset = {
  url: `/public/v-app/assets/vapp.js?v=${digest(SCRIPT)}`,
  body: SCRIPT,
  contentType: "text/javascript; charset=utf-8",
};

export const PAGE_STYLE: PageAsset = {
  url: `/public/v-app/assets/vapp.css?v=${digest(STYLE)}`,
  body: STYLE,
  contentType: "text/css; charset=utf-8",
};

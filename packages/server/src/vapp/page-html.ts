/**
 * The VApp page's HTML: the app's title, description and images rendered on the server (every
 * value escaped), the input form and run state filled in by the browser module from a JSON
 * block that is data, never script. Strict headers on every page: a CSP that allows only this
 * server's own script and style, no framing, no referrer (the link's token is in the URL).
 */
import { PAGE_SCRIPT, PAGE_STYLE } from "./page-assets.js";

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/html; charset=utf-8",
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; " +
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** JSON safe inside `<script type="application/json">`: no `</script>`, no `<!--`, no line separators. */
export function jsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export interface PageView {
  title: string;
  description: string;
  /** Image URLs (http(s) or this server's). */
  images: string[];
  /** Handed to the browser module (`vapp-config`). */
  config: unknown;
}

function layout(title: string, body: string, head = ""): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${PAGE_STYLE.url}">
${head}</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

export function renderPage(view: PageView): string {
  const images = view.images
    .filter((src) => /^(https?:\/\/|\/(?!\/))/i.test(src))
    .map((src) => `<img src="${escapeHtml(src)}" alt="">`)
    .join("");
  const head = `<script type="application/json" id="vapp-config">${jsonForHtml(view.config)}</script>
<script type="module" src="${PAGE_SCRIPT.url}"></script>
`;
  const body = `<header>
<h1 id="vapp-title">${escapeHtml(view.title)}</h1>
${view.description ? `<p class="description">${escapeHtml(view.description)}</p>` : ""}
${images ? `<div class="images">${images}</div>` : ""}
</header>
<noscript><p class="message error">This app needs JavaScript to run.</p></noscript>
<form id="vapp-form" class="card" novalidate>
<div id="vapp-fields"></div>
<button id="vapp-run" type="submit">Run</button>
<p id="vapp-access" class="access"></p>
<p id="vapp-message" class="message" hidden></p>
</form>
<section class="card" aria-live="polite">
<h2>Progress</h2>
<ol id="vapp-progress" class="steps"></ol>
<div id="vapp-live" class="live" hidden></div>
</section>
<section class="card" aria-live="polite">
<h2>Result</h2>
<div id="vapp-outputs"><p class="muted">Fill in the form and press Run.</p></div>
</section>`;
  return layout(view.title, body, head);
}

/** A plain error page: what happened and what to do, nothing more. */
export function renderErrorPage(title: string, message: string): string {
  return layout(title, `<div class="error-page"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></div>`);
}

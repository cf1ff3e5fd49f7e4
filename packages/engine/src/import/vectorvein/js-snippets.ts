/**
 * JavaScript run by the code nodes the VectorVein import generates. VectorVein's nodes are
 * Python (`backend/worker/tasks/*.py` in AndersonBY/vector-vein); these helpers reproduce the
 * Python behaviour the nodes rely on — `str()` of values, `unicode_escape` decoding of
 * separators, slicing with negative indexes, `re` patterns — inside the QuickJS sandbox,
 * which has no libraries. Each generated node includes only the helpers it uses.
 */

export const HELPERS = {
  /** Python's repr() and str() for JSON values (`['a', 1, True]`, `None`). */
  pyStr: `function pyRepr(v) {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return pyNumber(v);
  if (typeof v === "string") {
    var q = v.indexOf("'") >= 0 && v.indexOf('"') < 0 ? '"' : "'";
    var body = v.replace(/\\\\/g, "\\\\\\\\").replace(/\\n/g, "\\\\n").replace(/\\r/g, "\\\\r").replace(/\\t/g, "\\\\t");
    if (q === "'") body = body.replace(/'/g, "\\\\'");
    return q + body + q;
  }
  if (Array.isArray(v)) return "[" + v.map(pyRepr).join(", ") + "]";
  return "{" + Object.keys(v).map(function (k) { return pyRepr(k) + ": " + pyRepr(v[k]); }).join(", ") + "}";
}
function pyNumber(n) {
  if (n !== n) return "nan";
  if (n === Infinity) return "inf";
  if (n === -Infinity) return "-inf";
  return String(n);
}
function pyStr(v) {
  return typeof v === "string" ? v : pyRepr(v);
}`,

  /** Python's `s.encode().decode("unicode_escape")`: "\\n" in a separator means a newline. */
  decodeEscapes: `function decodeEscapes(s) {
  if (typeof s !== "string") return s;
  var simple = { n: "\\n", t: "\\t", r: "\\r", "\\\\": "\\\\", "'": "'", '"': '"', a: "\\u0007", b: "\\b", f: "\\f", v: "\\v", "0": "\\u0000" };
  return s.replace(/\\\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.)/g, function (all, e) {
    if (e[0] === "x" || e[0] === "u" || e[0] === "U") return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e) && e !== "0") return String.fromCharCode(parseInt(e, 8));
    return Object.prototype.hasOwnProperty.call(simple, e) ? simple[e] : all;
  });
}`,

  /** Python slicing `s[start:end]` (negative indexes count from the end, bounds are clamped). */
  pySlice: `function pyIndex(i, len) {
  if (i === null || i === undefined) return null;
  if (i < 0) i = Math.max(0, len + i);
  return Math.min(i, len);
}
// Python counts code points; JavaScript strings count UTF-16 units, so slice code point arrays.
function pySlice(s, start, end) {
  var cps = Array.from(s);
  var a = pyIndex(start, cps.length);
  var b = pyIndex(end, cps.length);
  return cps.slice(a === null ? 0 : a, b === null ? cps.length : b).join("");
}
function pyLen(s) {
  return Array.from(s).length;
}
function pyRfind(s, sub) {
  var at = s.lastIndexOf(sub);
  return at < 0 ? -1 : Array.from(s.slice(0, at)).length;
}`,

  /**
   * Python `re` syntax that JavaScript spells differently: named groups `(?P<n>…)`,
   * back-references `(?P=n)`, `\\A` / `\\Z`, and leading inline flags `(?ims)`.
   */
  pyRegex: `function pyRegex(pattern, flags) {
  var f = flags || "";
  var p = String(pattern);
  var lead = /^\\(\\?([aiLmsux]+)\\)/.exec(p);
  if (lead) {
    p = p.slice(lead[0].length);
    lead[1].split("").forEach(function (c) { if ("ims".indexOf(c) >= 0 && f.indexOf(c) < 0) f += c; });
  }
  p = p.replace(/\\(\\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, "(?<$1>").replace(/\\(\\?P=([A-Za-z_][A-Za-z0-9_]*)\\)/g, "\\\\k<$1>");
  p = p.replace(/(^|[^\\\\])\\\\A/g, "$1^").replace(/(^|[^\\\\])\\\\Z/g, "$1$(?![\\\\s\\\\S])");
  return new RegExp(p, f.indexOf("g") >= 0 ? f : f + "g");
}
/** re.findall: the whole match without groups, the first group's text with them ('' when it did not take part). */
function pyFindall(pattern, text, flags) {
  var re = pyRegex(pattern, flags);
  var out = [];
  var m;
  while ((m = re.exec(text)) !== null) {
    out.push(m.length > 1 ? (m[1] === undefined ? "" : m[1]) : m[0]);
    if (m[0] === "") re.lastIndex++;
  }
  return out;
}`,
} as const;

export type HelperName = keyof typeof HELPERS;

/**
 * A generated code node's program: the port values fixed at import (`PORTS`), the ports bound
 * to variables (`BOUND`: port → code variable), the helpers, and `body`, which must define
 * `run(port)` returning the VectorVein output ports as an object. `main` wraps it in Dify's
 * code-node contract: one declared output, `outputs`, holding every port.
 */
export function codeProgram(options: {
  header: string;
  ports: Record<string, unknown>;
  bound: Record<string, string>;
  helpers: readonly HelperName[];
  body: string;
}): string {
  const helpers = [...new Set(options.helpers)].map((h) => HELPERS[h]).join("\n");
  return `// ${options.header}
// Imported from VectorVein by Tributary; ports fixed at import are in PORTS, the others arrive as inputs.
var PORTS = ${JSON.stringify(options.ports, null, 2)};
var BOUND = ${JSON.stringify(options.bound)};
${helpers}
${options.body}
function main(inputs) {
  function port(name) {
    return Object.prototype.hasOwnProperty.call(BOUND, name) ? inputs[BOUND[name]] : PORTS[name];
  }
  return { outputs: run(port) };
}
`;
}

/** Bodies of the generated nodes, each a faithful port of the VectorVein task it names. */
export const BODIES = {
  // text_processing.template_compose with list inputs: one composition per item.
  templateCompose: `function run(port) {
  var fields = FIELDS;
  var values = {};
  var length = 1;
  var hasList = false;
  fields.forEach(function (f) {
    var v = port(f);
    values[f] = v;
    if (Array.isArray(v)) {
      if (!hasList) length = v.length;
      else if (length !== v.length) throw new Error("Input fields have different list length");
      hasList = true;
    }
  });
  var outputs = [];
  for (var i = 0; i < length; i++) {
    var t = Array.isArray(values.template) ? values.template[i] : values.template;
    t = pyStr(t);
    fields.forEach(function (f) {
      var v = Array.isArray(values[f]) ? values[f][i] : values[f];
      t = t.split("{{" + f + "}}").join(pyStr(v));
    });
    outputs.push(t);
  }
  return { output: hasList ? outputs : outputs[0] };
}`,

  // text_processing.text_replace
  textReplace: `function run(port) {
  var input = port("text");
  var items = port("replace_items") || [];
  if (typeof items === "string") items = JSON.parse(items);
  var texts = typeof input === "string" ? [input] : input;
  var out = texts.map(function (text) {
    items.forEach(function (item) {
      text = String(text).split(decodeEscapes(item.source)).join(item.target);
    });
    return text;
  });
  return { output: typeof input === "string" ? out[0] : out };
}`,

  // text_processing.text_truncation (separators: LangChain's Markdown list, matched literally as VectorVein does)
  textTruncation: `var SEPARATORS = ["\\n#{1,6} ", "\`\`\`\\n", "\\n\\\\*\\\\*\\\\*+\\n", "\\n---+\\n", "\\n___+\\n", "\\n\\n", "\\n", " ", ""];
function truncateOne(text, length, range) {
  if (pyLen(text) <= length) return text;
  if (range <= 0) return pySlice(text, null, length);
  for (var i = 0; i < SEPARATORS.length; i++) {
    var chunk = pySlice(text, length - range, length + range);
    var at = pyRfind(chunk, SEPARATORS[i]);
    if (at > 0) return pySlice(text, null, length - range + at);
  }
  return pySlice(text, null, length);
}
function run(port) {
  var input = port("text");
  var length = Number(port("truncate_length"));
  var range = Number(port("floating_range"));
  var texts = typeof input === "string" ? [input] : input;
  var out = texts.map(function (t) { return truncateOne(t, length, range); });
  return { output: typeof input === "string" ? out[0] : out };
}`,

  // text_processing.regex_extract
  regexExtract: `function run(port) {
  var input = port("text");
  var pattern = port("pattern");
  var first = port("first_match");
  if (first === undefined || first === null) first = true;
  var original = port("output_original_on_no_match");
  var texts = typeof input === "string" ? [input] : input;
  var out = texts.map(function (t) {
    var matches = pyFindall(pattern, t, "s");
    if (matches.length === 0) return original ? t : "";
    return first ? matches[0] : matches;
  });
  return { output: typeof input === "string" ? out[0] : out };
}`,

  // text_processing.list_render with a separator that is not fixed at import
  listRender: `function run(port) {
  var list = port("list");
  var type = port("output_type") || "text";
  if (type === "list") return { output: list };
  if (type !== "text") throw new Error("Unsupported output type: " + type);
  var sep = port("separator");
  sep = decodeEscapes(sep === undefined || sep === null ? "\\n" : sep);
  var items = typeof list === "string" ? list.split("") : list;
  return { output: items.map(pyStr).join(sep) };
}`,

  // text_processing.text_splitters
  textSplitters: `function splitGeneral(text, tokens, overlap) {
  // VectorVein counts tiktoken tokens; without tiktoken a token is taken as 4 characters,
  // and chunks end at whitespace where possible.
  var size = Math.max(1, tokens * 4);
  var step = Math.max(1, size - Math.max(0, overlap) * 4);
  var out = [];
  var start = 0;
  while (start < text.length) {
    var end = Math.min(text.length, start + size);
    if (end < text.length) {
      var ws = text.lastIndexOf(" ", end);
      if (ws > start + size / 2) end = ws;
    }
    out.push(text.slice(start, end).trim());
    if (end >= text.length) break;
    start = Math.max(start + 1, end - (size - step));
  }
  return out.filter(function (c) { return c.length > 0; });
}
function splitMarkdown(text, size) {
  // Sections start at headings; long sections are cut at paragraphs; short neighbours are
  // merged two at a time (VectorVein's ChunkedMarkdownSyntaxTextSplitter does the same).
  var sections = [];
  var current = [];
  text.split("\\n").forEach(function (line) {
    if (/^#{1,6} /.test(line) && current.join("").trim()) {
      sections.push(current.join("\\n").trim());
      current = [];
    }
    current.push(line);
  });
  if (current.join("").trim()) sections.push(current.join("\\n").trim());
  var parts = [];
  sections.forEach(function (s) {
    if (s.length <= size) return parts.push(s);
    var buf = "";
    s.split(/\\n\\n+/).forEach(function (p) {
      if (buf && buf.length + 2 + p.length > size) { parts.push(buf); buf = p; }
      else buf = buf ? buf + "\\n\\n" + p : p;
    });
    if (buf) parts.push(buf);
  });
  var out = [];
  for (var i = 0; i < parts.length; i++) {
    if (i < parts.length - 1 && parts[i].length + parts[i + 1].length <= size) { out.push(parts[i] + "\\n\\n" + parts[i + 1]); i++; }
    else out.push(parts[i]);
  }
  return out;
}
function splitTable(text) {
  var rows = [];
  var row = [""];
  var quoted = false;
  for (var i = 0; i < text.length; i++) {
    var c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { row[row.length - 1] += '"'; i++; }
      else if (c === '"') quoted = false;
      else row[row.length - 1] += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push("");
    else if (c === "\\n" || c === "\\r") {
      if (c === "\\r" && text[i + 1] === "\\n") i++;
      rows.push(row);
      row = [""];
    } else row[row.length - 1] += c;
  }
  if (row.length > 1 || row[0] !== "") rows.push(row);
  var header = rows.shift() || [];
  return rows.filter(function (r) { return r.length > 1 || r[0] !== ""; }).map(function (r) {
    return header.map(function (h, j) { return h + ": " + (r[j] === undefined ? "None" : r[j]); }).join("\\n");
  });
}
function run(port) {
  var text = port("text");
  var method = port("split_method") || "general";
  var out;
  if (method === "general") out = splitGeneral(text, Number(port("chunk_length")), Number(port("chunk_overlap")));
  else if (method === "delimiter") {
    var d = port("delimiter");
    out = String(text).split(pyRegex(decodeEscapes(d === undefined || d === null ? "\\n" : d)));
  } else if (method === "markdown") out = splitMarkdown(text, Number(port("chunk_length")));
  else if (method === "table") out = splitTable(text);
  else throw new Error("Invalid split_method: " + method);
  return { output: out };
}`,

  // text_processing.markdown_to_html (the Markdown subset of markdown2 with fenced code blocks)
  markdownToHtml: `function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
function inline(s) {
  var codes = [];
  s = s.replace(/\`([^\`]+)\`/g, function (_, c) { codes.push("<code>" + escapeHtml(c) + "</code>"); return "\\u0000" + (codes.length - 1) + "\\u0000"; });
  s = s.replace(/&(?![a-zA-Z]+;|#\\d+;)/g, "&amp;").replace(/<(?![a-zA-Z\\/!])/g, "&lt;");
  s = s.replace(/!\\[([^\\]]*)\\]\\(([^)\\s]+)(?:\\s+"([^"]*)")?\\)/g, function (_, alt, src, title) {
    return '<img src="' + src + '" alt="' + alt + '"' + (title ? ' title="' + title + '"' : "") + " />";
  });
  s = s.replace(/\\[([^\\]]+)\\]\\(([^)\\s]+)(?:\\s+"([^"]*)")?\\)/g, function (_, text, href, title) {
    return '<a href="' + href + '"' + (title ? ' title="' + title + '"' : "") + ">" + text + "</a>";
  });
  s = s.replace(/(\\*\\*|__)(?=\\S)([\\s\\S]*?\\S)\\1/g, "<strong>$2</strong>");
  s = s.replace(/(\\*|_)(?=\\S)([\\s\\S]*?\\S)\\1/g, "<em>$2</em>");
  s = s.replace(/ {2,}\\n/g, " <br />\\n");
  return s.replace(/\\u0000(\\d+)\\u0000/g, function (_, i) { return codes[Number(i)]; });
}
function toHtml(md) {
  var lines = String(md).replace(/\\r\\n?/g, "\\n").split("\\n");
  var out = [];
  var i = 0;
  while (i < lines.length) {
    var line = lines[i];
    var fence = /^\`\`\`\\s*([\\w+-]*)\\s*$/.exec(line);
    if (fence) {
      var code = [];
      i++;
      while (i < lines.length && !/^\`\`\`\\s*$/.test(lines[i])) code.push(lines[i++]);
      i++;
      out.push("<pre><code" + (fence[1] ? ' class="' + fence[1] + '"' : "") + ">" + escapeHtml(code.join("\\n")) + "\\n</code></pre>");
      continue;
    }
    if (/^\\s*$/.test(line)) { i++; continue; }
    var h = /^(#{1,6})\\s+(.*?)\\s*#*\\s*$/.exec(line);
    if (h) { out.push("<h" + h[1].length + ">" + inline(h[2]) + "</h" + h[1].length + ">"); i++; continue; }
    if (/^\\s*([-*_])(\\s*\\1){2,}\\s*$/.test(line)) { out.push("<hr />"); i++; continue; }
    if (/^>\\s?/.test(line)) {
      var quote = [];
      while (i < lines.length && /^>\\s?/.test(lines[i])) quote.push(lines[i++].replace(/^>\\s?/, ""));
      out.push("<blockquote>\\n" + toHtml(quote.join("\\n")) + "</blockquote>");
      continue;
    }
    var list = /^(\\s*)([-*+]|\\d+\\.)\\s+/.exec(line);
    if (list) {
      var ordered = /\\d/.test(list[2]);
      var items = [];
      while (i < lines.length && /^\\s*([-*+]|\\d+\\.)\\s+/.test(lines[i])) items.push(lines[i++].replace(/^\\s*([-*+]|\\d+\\.)\\s+/, ""));
      var tag = ordered ? "ol" : "ul";
      out.push("<" + tag + ">\\n" + items.map(function (t) { return "<li>" + inline(t) + "</li>"; }).join("\\n") + "\\n</" + tag + ">");
      continue;
    }
    var para = [];
    while (i < lines.length && !/^\\s*$/.test(lines[i]) && !/^(#{1,6}\\s|\`\`\`|>|\\s*([-*+]|\\d+\\.)\\s+)/.test(lines[i])) para.push(lines[i++]);
    out.push("<p>" + inline(para.join("\\n")) + "</p>");
  }
  return out.join("\\n\\n") + "\\n";
}
function run(port) {
  var md = port("markdown");
  return { html: Array.isArray(md) ? md.map(toHtml) : toHtml(md) };
}`,

  // control_flows.json_process
  jsonProcess: `function tryParse(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    var block = /\`\`\`.*?\\n([\\s\\S]*?)\\n\`\`\`/.exec(text);
    if (!block) throw new Error("Invalid JSON format");
    return JSON.parse(block[1]);
  }
}
function repeat(list, times) {
  var out = [];
  for (var i = 0; i < times; i++) out = out.concat(list);
  return out;
}
function get(obj, key, dflt) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new Error("'" + (Array.isArray(obj) ? "list" : typeof obj) + "' object has no attribute 'get'");
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : dflt;
}
function run(port) {
  var raw = port("input");
  var parsed = typeof raw === "string" ? tryParse(raw) : raw;
  var list = Array.isArray(parsed) ? parsed : [parsed];
  var data = list.map(function (item) { return typeof item === "string" ? tryParse(item) : item; });
  var mode = port("process_mode") || "get_value";
  var key = port("key");
  var dflt = port("default_value");
  var keys = port("keys") || [];
  var hasList = Array.isArray(parsed) || Array.isArray(key);
  var keyList = Array.isArray(key) ? key : [key];
  // Python: key * len(data) when there are fewer keys, data * len(key) when there are more.
  if (keyList.length < data.length) keyList = repeat(keyList, data.length);
  else if (keyList.length > data.length) data = repeat(data, keyList.length);
  var output = [];
  var result = {};
  if (mode === "get_value") {
    for (var a = 0; a < data.length; a++) {
      if (a >= keyList.length) throw new Error("list index out of range");
      output.push(get(data[a], keyList[a], dflt));
    }
  }
  else if (mode === "list_values") data.forEach(function (o) { output.push(Object.keys(o).map(function (x) { return o[x]; })); });
  else if (mode === "list_keys") data.forEach(function (o) { output.push(Object.keys(o)); });
  else if (mode === "get_multiple_values") {
    keys.forEach(function (kk) {
      var values = data.map(function (o) { return get(o, kk, dflt); });
      result["output-" + kk] = hasList ? values : values[0];
    });
    return result;
  } else throw new Error("Unsupported process mode: " + mode);
  return { output: hasList ? output : output[0] };
}`,

  // control_flows.random_choice
  randomChoice: `function choice(list) {
  if (!list || list.length === 0) throw new Error("Cannot choose from an empty sequence");
  return list[Math.floor(Math.random() * list.length)];
}
function run(port) {
  var input = port("input");
  if (typeof input === "string") input = JSON.parse(input);
  if (Array.isArray(input[0])) return { output: input.map(choice) };
  return { output: choice(input) };
}`,
} as const;

/**
 * Reasoning models put their chain of thought in `<think>…</think>` inside the answer text
 * (DeepSeek-R1 distills, QwQ, Ollama) or stream it separately (`reasoning_content`). Dify's
 * `reasoning_format: "separated"` moves it out of `text` into `reasoning_content`; "tagged"
 * keeps it inline. Tags arrive split across stream chunks, so stripping must hold back any
 * tail that could still become a tag.
 */

const OPEN = "<think>";
const CLOSE = "</think>";

export interface ReasoningSplit {
  text: string;
  reasoning: string;
}

/** Length of the longest tail of `s` that is a proper prefix of `tag` (case-insensitive). */
function partialTagSuffix(s: string, tag: string): number {
  const lower = s.slice(-(tag.length - 1)).toLowerCase();
  for (let k = Math.min(lower.length, tag.length - 1); k > 0; k--) {
    if (tag.startsWith(lower.slice(lower.length - k))) return k;
  }
  return 0;
}

/** Streaming splitter: feed chunks with `push`, then `flush` once at the end. */
export class ThinkTagSplitter {
  private inside = false;
  private hold = "";
  private textStarted = false;

  push(chunk: string): ReasoningSplit {
    let work = this.hold + chunk;
    this.hold = "";
    let text = "";
    let reasoning = "";
    while (work) {
      const lower = work.toLowerCase();
      if (!this.inside) {
        const at = lower.indexOf(OPEN);
        if (at >= 0) {
          text += work.slice(0, at);
          work = work.slice(at + OPEN.length);
          this.inside = true;
          continue;
        }
        const keep = partialTagSuffix(work, OPEN);
        text += work.slice(0, work.length - keep);
        this.hold = work.slice(work.length - keep);
      } else {
        const at = lower.indexOf(CLOSE);
        if (at >= 0) {
          reasoning += work.slice(0, at);
          work = work.slice(at + CLOSE.length);
          this.inside = false;
          continue;
        }
        const keep = partialTagSuffix(work, CLOSE);
        reasoning += work.slice(0, work.length - keep);
        this.hold = work.slice(work.length - keep);
      }
      work = "";
    }
    return { text: this.leading(text), reasoning };
  }

  flush(): ReasoningSplit {
    const rest = this.hold;
    this.hold = "";
    // An unclosed <think> (truncated generation) is reasoning, never answer text.
    return this.inside ? { text: "", reasoning: rest } : { text: this.leading(rest), reasoning: "" };
  }

  /** Reasoning-first models leave blank lines after `</think>`; the answer starts at its first visible character. */
  private leading(text: string): string {
    if (this.textStarted || !text) return text;
    const trimmed = text.trimStart();
    if (trimmed) this.textStarted = true;
    return trimmed;
  }
}

const BLOCK = /<think>([\s\S]*?)<\/think>/gi;
const UNCLOSED = /<think>([\s\S]*)$/i;

/** Whole-text split: clean answer (blank-line runs collapsed, trimmed) and the reasoning parts joined by newlines. */
export function splitThinkTags(full: string): ReasoningSplit {
  const parts: string[] = [];
  let text = full.replace(BLOCK, (_m, inner: string) => {
    if (inner.trim()) parts.push(inner.trim());
    return "";
  });
  const unclosed = UNCLOSED.exec(text);
  if (unclosed) {
    if (unclosed[1]?.trim()) parts.push(unclosed[1].trim());
    text = text.slice(0, unclosed.index);
  }
  return { text: text.replace(/\n\s*\n/g, "\n\n").trim(), reasoning: parts.join("\n") };
}

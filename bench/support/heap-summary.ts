/**
 * `npx tsx bench/support/heap-summary.ts <file.heapsnapshot> [<before.heapsnapshot>] [top]`: self
 * size of a V8 heap snapshot by node type and constructor name, with counts, or the growth
 * since `before`: what the memory benchmark's held runs are made of.
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  strings: string[];
}

const args = process.argv.slice(2);
const [file, before] = args.filter((a) => a.endsWith(".heapsnapshot"));
const topText = args.find((a) => /^\d+$/.test(a));
if (!file) {
  console.error("usage: tsx bench/support/heap-summary.ts <file.heapsnapshot> [<before.heapsnapshot>] [top]");
  process.exit(2);
}
const top = Number(topText ?? 40);

function summarise(path: string): { total: number; nodes: number; groups: Map<string, { size: number; count: number }> } {
  const snap = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = snap.snapshot.meta.node_types[0];
  const groups = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] as number] ?? "?";
    // Strings are grouped by kind only (their "name" is their text).
    const name = type.includes("string") ? "" : snap.strings[snap.nodes[i + nameAt] as number];
    const key = `${type} ${name ?? ""}`.trim().slice(0, 90);
    const size = snap.nodes[i + sizeAt] as number;
    total += size;
    const g = groups.get(key) ?? { size: 0, count: 0 };
    g.size += size;
    g.count++;
    groups.set(key, g);
  }
  return { total, nodes: snap.snapshot.node_count, groups };
}

const after = summarise(file);
const base = before ? summarise(before) : undefined;
const rows = [...after.groups].map(([key, g]) => {
  const b = base?.groups.get(key) ?? { size: 0, count: 0 };
  return { key, size: g.size - b.size, count: g.count - b.count };
});
console.log(
  base
    ? `${file}: +${((after.total - base.total) / 1024 / 1024).toFixed(1)} MB, +${after.nodes - base.nodes} nodes since ${before}`
    : `${file}: ${(after.total / 1024 / 1024).toFixed(1)} MB in ${after.nodes} nodes`,
);
for (const r of rows.sort((a, b) => b.size - a.size).slice(0, top)) {
  console.log(`${(r.size / 1024).toFixed(0).padStart(9)} KB ${String(r.count).padStart(8)}×  ${r.key}`);
}

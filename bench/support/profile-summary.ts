/**
 * `npx tsx bench/support/profile-summary.ts <file.cpuprofile> [top] [untilMs]`: where a V8 CPU
 * profile's time went — self time by function and by package or source area, as shares of the
 * samples (only those of the first `untilMs` of the profile, if given: e.g. start-up up to
 * the first healthy answer). How the README's "where the time goes" notes were made.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topText, untilText] = process.argv.slice(2);
if (!file) {
  console.error("usage: tsx bench/support/profile-summary.ts <file.cpuprofile> [top]");
  process.exit(2);
}
const top = Number(topText ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const untilUs = untilText === undefined ? Number.POSITIVE_INFINITY : Number(untilText) * 1000;
const selfUs = new Map<number, number>();
let elapsedUs = 0;
profile.samples.forEach((id, i) => {
  elapsedUs += profile.timeDeltas[i] ?? 0;
  if (elapsedUs <= untilUs) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function area(url: string): string {
  if (url === "") return "(native/V8)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1] as string;
  const pkg = /packages\/([^/]+)\/src\/([^/]+)/.exec(url);
  if (pkg) return `@tributary/${pkg[1]}/${pkg[2]}`;
  if (url.startsWith("node:")) return url;
  return url.replace(/^file:\/\/.*\/work\/main\//, "");
}

const byFunction = new Map<string, number>();
const byArea = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (!node) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || "(anonymous)"} ${area(url)}${url ? `:${lineNumber + 1}` : ""}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const a = functionName.startsWith("(") && url === "" ? functionName : area(url);
  byArea.set(a, (byArea.get(a) ?? 0) + us);
}
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
show("self time by area", byArea);
show("self time by function", byFunction);

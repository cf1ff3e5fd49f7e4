import { describe, expect, it } from "vitest";
import { MemoryWatchdog } from "./memory-watchdog.js";

function setup(budget: number) {
  let rss = 1_000;
  const exceeded: Array<{ runs: string[]; grown: number }> = [];
  const watchdog = new MemoryWatchdog<string>(budget, (runs, grown) => exceeded.push({ runs, grown }), {
    rss: () => rss,
    intervalMs: 60_000,
  });
  return { watchdog, exceeded, setRss: (value: number) => (rss = value) };
}

describe("MemoryWatchdog", () => {
  it("reports the active runs once the process grew past the budget since the earliest started", () => {
    const { watchdog, exceeded, setRss } = setup(100);
    watchdog.watch("a");
    setRss(1_050);
    watchdog.watch("b");
    setRss(1_200);
    watchdog.check();
    expect(exceeded).toEqual([]); // 200 grown, 2 runs × 100 allowed
    setRss(1_201);
    watchdog.check();
    expect(exceeded).toEqual([{ runs: ["a", "b"], grown: 201 }]);
    watchdog.close();
  });

  it("forgets released runs and stays quiet with none active", () => {
    const { watchdog, exceeded, setRss } = setup(100);
    watchdog.watch("a");
    watchdog.release("a");
    setRss(5_000);
    watchdog.check();
    expect(exceeded).toEqual([]);
  });
});

import type { EngineEvent } from "@tributary/engine";
import { describe, expect, it } from "vitest";
import { RunFeed } from "./run-feed.js";
import type { SequencedEvent } from "./types.js";

const ev = (seq: number, type: EngineEvent["type"] = "text_chunk"): SequencedEvent => ({
  seq,
  event: { type, runId: "r", nodeId: "n", text: String(seq), fromVariableSelector: ["n", "text"] } as EngineEvent,
});

const drain = (sub: { take(): SequencedEvent | undefined }) => {
  const out: number[] = [];
  for (let e = sub.take(); e; e = sub.take()) out.push(e.seq);
  return out;
};

describe("RunFeed", () => {
  it("hands a new subscriber the published events not yet confirmed, and says what the store holds", () => {
    const feed = new RunFeed(100);
    for (let i = 1; i <= 5; i++) feed.publish(ev(i));
    feed.confirm(3);
    const attached = feed.attach();
    expect(attached?.storeHoldsUpTo).toBe(3);
    feed.publish(ev(6));
    expect(drain(attached!.subscription)).toEqual([4, 5, 6]);
    feed.confirm(6);
    expect(feed.attach()?.storeHoldsUpTo).toBe(6);
  });

  it("cuts off a subscriber that falls too far behind without affecting the others", () => {
    const feed = new RunFeed(3);
    const slow = feed.attach()!.subscription;
    const fast = feed.attach()!.subscription;
    const fastGot: number[] = [];
    for (let i = 1; i <= 10; i++) {
      feed.publish(ev(i));
      fastGot.push(...drain(fast));
    }
    expect(fastGot).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(slow.overflowed).toBe(true);
    expect(slow.take()).toBeUndefined();
    expect(feed.subscriberCount).toBe(1);
  });

  it("wakes a waiting subscriber on publish and on close, and refuses attachment once closed", async () => {
    const feed = new RunFeed(10);
    const sub = feed.attach()!.subscription;
    const waiting = sub.wait();
    feed.publish(ev(1));
    await waiting;
    expect(drain(sub)).toEqual([1]);
    const waitingAgain = sub.wait();
    feed.publish(ev(2, "workflow_finished"), true);
    feed.close();
    await waitingAgain;
    expect(drain(sub)).toEqual([2]);
    expect(sub.ended).toBe(true);
    expect(feed.attach()).toBeUndefined();
  });

  it("wakes a waiting subscriber when its signal aborts", async () => {
    const feed = new RunFeed(10);
    const sub = feed.attach()!.subscription;
    const controller = new AbortController();
    const waiting = sub.wait(controller.signal);
    controller.abort();
    await waiting;
    sub.detach();
    expect(feed.subscriberCount).toBe(0);
  });
});

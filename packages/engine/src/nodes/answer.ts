import { z } from "zod";
import { referencesInText } from "../variables/selector.js";
import { defineNode } from "./node-definition.js";

const answerDataSchema = z.looseObject({
  type: z.literal("answer"),
  answer: z.string().default(""),
});

/** Chatflow's answer node; in a workflow it renders its text into the `answer` output. */
export const answerNode = defineNode({
  type: "answer",
  schema: answerDataSchema,
  references: (data) => referencesInText(data.answer),
  run(ctx) {
    const answer = ctx.pool.renderText(ctx.data.answer);
    return { outputs: { answer } };
  },
});

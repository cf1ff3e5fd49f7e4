export { createSandbox, type Sandbox } from "./create-sandbox.js";
export { resolveSandboxOptions, type SandboxOptions, sandboxOptionsSchema } from "./sandbox-options.js";

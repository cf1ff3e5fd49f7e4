export {
  importVectorVeinWorkflow,
  type VectorVeinImportOptions,
  type VectorVeinImportResult,
  type VectorVeinInputBinding,
  type VectorVeinOutputBinding,
} from "./import-vectorvein.js";
export {
  normalizeCategory,
  type VectorVeinEdge,
  type VectorVeinNode,
  type VectorVeinPort,
  type VectorVeinWorkflow,
  vectorVeinWorkflowSchema,
} from "./schema.js";

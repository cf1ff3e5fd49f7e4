export * from "./file-capability.js";
export * from "./file-names.js";
export * from "./file-storage.js";
export * from "./multipart-upload.js";
export * from "./server-files.js";
export * from "./signed-url.js";

/**
 * Everything file-related the server wires together: disk storage, URL signing, the upload
 * policy (Dify's per-type size limits) and the engine FileCapability built on them.
 */
import type { HttpCapability } from "@tributary/engine";
import type { Config } from "../config.js";
import type { Store } from "../store/types.js";
import { ServerFileCapability, uploadLimitFor } from "./file-capability.js";
import { fileTypeOf } from "./file-names.js";
import { DiskFileStorage } from "./file-storage.js";
import type { UploadPolicy } from "./multipart-upload.js";
import { FileUrlSigner } from "./signed-url.js";

/** Multipart framing and form fields on top of the largest file. */
const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

export interface ServerFilesOptions {
  config: Pick<Config, "filesDir" | "uploads" | "filesAccessTimeoutSec">;
  store: Store;
  /** HMAC key for signed file URLs (stable across restarts). */
  signingKey: Uint8Array;
  /** The server's public base URL, resolved when a URL is signed. */
  baseUrl: () => string;
  now?: () => number;
}

export class ServerFiles {
  readonly storage: DiskFileStorage;
  readonly signer: FileUrlSigner;
  readonly #options: ServerFilesOptions;

  constructor(options: ServerFilesOptions) {
    this.#options = options;
    this.storage = new DiskFileStorage(options.config.filesDir);
    this.signer = new FileUrlSigner({
      key: options.signingKey,
      baseUrl: options.baseUrl,
      ttlSec: options.config.filesAccessTimeoutSec,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  init(): Promise<void> {
    return this.storage.init();
  }

  get uploadPolicy(): UploadPolicy {
    const limits = this.#options.config.uploads;
    return {
      limitFor: (extension) => uploadLimitFor(fileTypeOf(extension), limits),
      blockedExtensions: limits.blockedExtensions,
      hardCapBytes:
        Math.max(limits.imageBytes, limits.audioBytes, limits.videoBytes, limits.fileBytes) + MULTIPART_OVERHEAD_BYTES,
    };
  }

  /** The engine FileCapability; remote files are read through `http` (and its SSRF guard). */
  capability(http: HttpCapability): ServerFileCapability {
    return new ServerFileCapability({
      store: this.#options.store,
      storage: this.storage,
      signer: this.signer,
      http,
      limits: this.#options.config.uploads,
    });
  }
}

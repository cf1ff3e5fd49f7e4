/**
 * Files on local disk under one root. Keys are random (`ab/<uuid>`), never derived from client
 * names, so a name cannot traverse paths or collide. Writes stream into a temp file and are
 * renamed into place only when complete: a reader never sees a half-written file.
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export class FileTooLargeError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`The file is larger than the limit of ${limit} bytes.`);
    this.name = "FileTooLargeError";
    this.limit = limit;
  }
}

export interface StoredFile {
  storageKey: string;
  size: number;
}

export class DiskFileStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, "tmp"), { recursive: true });
  }

  /**
   * Streams `source` to a new file. Rejects with FileTooLargeError as soon as more than
   * `maxBytes` arrive (the partial file is removed), so an oversized upload never fills the disk.
   */
  async write(source: Readable | AsyncIterable<Uint8Array>, maxBytes = Number.POSITIVE_INFINITY): Promise<StoredFile> {
    const id = randomUUID();
    const storageKey = `${id.slice(0, 2)}/${id}`;
    const temp = join(this.root, "tmp", `${id}.part`);
    let size = 0;
    await mkdir(join(this.root, "tmp"), { recursive: true });
    try {
      await pipeline(
        source,
        async function* limit(chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            size += chunk.byteLength;
            if (size > maxBytes) throw new FileTooLargeError(maxBytes);
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: "wx", mode: 0o600 }),
      );
      const final = this.pathOf(storageKey);
      await mkdir(dirname(final), { recursive: true });
      await rename(temp, final);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { storageKey, size };
  }

  async writeBytes(bytes: Uint8Array): Promise<StoredFile> {
    return this.write(
      (async function* () {
        yield bytes;
      })(),
    );
  }

  async read(storageKey: string): Promise<Uint8Array> {
    return new Uint8Array(await readFile(this.pathOf(storageKey)));
  }

  createReadStream(storageKey: string): Readable {
    return createReadStream(this.pathOf(storageKey));
  }

  async size(storageKey: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(storageKey))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async delete(storageKey: string): Promise<void> {
    await rm(this.pathOf(storageKey), { force: true });
  }

  /** Absolute path of a key; refuses keys that would escape the root. */
  pathOf(storageKey: string): string {
    const path = resolve(this.root, storageKey);
    const rel = relative(this.root, path);
    if (rel === "" || rel.startsWith("..") || rel.split(sep).includes("..") || resolve(this.root, rel) !== path) {
      throw new Error(`Refusing storage key "${storageKey}": it points outside the files directory ${this.root}.`);
    }
    return path;
  }
}

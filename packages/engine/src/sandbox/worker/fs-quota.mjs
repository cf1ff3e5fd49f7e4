/**
 * Caps the bytes held by Pyodide's in-memory file system (MEMFS).
 *
 * File contents live in JavaScript typed arrays: outside the wasm memory cap and outside
 * the V8 heap limit. Without a quota, a snippet writing files in a loop grows the host
 * process without bound. Writes and truncations past the quota fail with ENOSPC, which
 * Python reports as `OSError: [Errno 51] No space left on device`.
 *
 * Growth is counted as it happens; freed files are noticed by an exact recount, done only
 * when the running count reaches the quota (MEMFS over-allocates by up to 12.5%, so the
 * quota is that approximate).
 */
const ENOSPC = 51; // Emscripten's errno numbering, not Linux's.

/**
 * @param {any} FS the Emscripten FS of the Pyodide module
 * @param {number} maxBytes
 */
export function capMemfs(FS, maxBytes) {
  const MEMFS = FS.filesystems.MEMFS;
  let used = measure();

  function measure() {
    let total = 0;
    const stack = [FS.root];
    const seen = new Set();
    while (stack.length > 0) {
      let node = stack.pop();
      if (node.mounted) node = node.mounted.root;
      if (seen.has(node)) continue;
      seen.add(node);
      if (FS.isDir(node.mode) && node.contents) stack.push(...Object.values(node.contents));
      else if (FS.isFile(node.mode) && node.contents) total += node.contents.length;
    }
    return total;
  }

  /** @param {any} node @param {number} capacity bytes the file will hold */
  function reserve(node, capacity) {
    const delta = capacity - (node.contents?.length ?? 0);
    if (delta <= 0) return;
    if (used + delta > maxBytes) {
      used = measure();
      if (used + delta > maxBytes) throw new FS.ErrnoError(ENOSPC);
    }
    used += delta;
  }

  const write = MEMFS.stream_ops.write;
  /** @this {unknown} */
  function cappedWrite(
    /** @type {any} */ stream,
    /** @type {any} */ buffer,
    offset = 0,
    length = 0,
    position = 0,
    canOwn = false,
  ) {
    if (length > 0) reserve(stream.node, position + length);
    return write.call(this, stream, buffer, offset, length, position, canOwn);
  }
  // Nodes created so far point at the ops table built from stream_ops; msync calls
  // stream_ops.write directly. Both must be the capped one.
  MEMFS.stream_ops.write = cappedWrite;
  if (MEMFS.ops_table) MEMFS.ops_table.file.stream.write = cappedWrite;

  const resize = MEMFS.resizeFileStorage;
  MEMFS.resizeFileStorage = function cappedResize(/** @type {any} */ node, /** @type {number} */ size) {
    reserve(node, size);
    return resize.call(this, node, size);
  };

  return { usedBytes: measure };
}

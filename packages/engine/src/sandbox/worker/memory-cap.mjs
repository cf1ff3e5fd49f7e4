/**
 * Caps the size of every WebAssembly memory in this worker thread.
 *
 * Worker `resourceLimits` bound the V8 heap only; a wasm memory is an external buffer that
 * they do not see. Emscripten grows its heap from JavaScript (`emscripten_resize_heap` →
 * `wasmMemory.grow()`), so `WebAssembly.Memory.prototype.grow` is the one place every
 * growth passes through. Refusing it makes malloc return NULL, which Python reports as
 * MemoryError and QuickJS as "out of memory"; the process itself is never at risk.
 */
const PAGE_BYTES = 65536;

/** @param {number} maxBytes */
export function capWasmMemory(maxBytes) {
  const proto = WebAssembly.Memory.prototype;
  const grow = proto.grow;
  Object.defineProperty(proto, "grow", {
    value: function cappedGrow(/** @type {number} */ deltaPages) {
      const next = this.buffer.byteLength + Number(deltaPages) * PAGE_BYTES;
      if (next > maxBytes) throw new RangeError(`sandbox memory limit of ${maxBytes} bytes reached`);
      return grow.call(this, deltaPages);
    },
    writable: false,
    configurable: false,
  });
}

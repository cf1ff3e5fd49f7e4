# Runs one code-node snippet the way Dify's sandbox does (define the code, then
# `main(**inputs)`), and resets what a snippet commonly changes in the shared interpreter
# so the next run in this worker starts from the same state. Loaded once per worker by
# python-runner.mjs; the JavaScript side calls `run(code, inputs_json, max_result_chars)`.
#
# Neither this file nor its import guard is the security boundary (Python cannot sandbox
# Python); the realm lockdown in lockdown.mjs is. The reset is hygiene, not isolation: a
# snippet determined to leave code behind (say, by rebinding a stdlib function's
# __code__) can, which is why the pool offers maxRunsPerWorker.

import builtins
import gc
import json
import linecache
import math
import operator
import os
import random
import signal
import sys
import traceback

import pyodide.ffi

# The harness's functions resolve builtins from this private copy, so a snippet that
# rebinds builtins.len cannot break the reset that undoes it.
globals()["__builtins__"] = dict(builtins.__dict__)

CODE_FILENAME = "<code>"
NONFINITE_TAG = "__tributary_nonfinite__"
TRACEBACK_FRAMES = 30
_MISSING = object()
_is_not = operator.is_not
_dumps = json.dumps
_loads = json.loads
_format_exception_only = traceback.format_exception_only
_extract_tb = traceback.extract_tb
_format_list = traceback.format_list

# Modules user code may not import by name: the bridges to JavaScript and native memory.
BLOCKED_IMPORTS = frozenset(
    ["js", "pyodide_js", "pyodide", "_pyodide", "_pyodide_core", "ctypes", "_ctypes", "micropip", "pyodide_http"]
)

# Common stdlib modules, imported once here so snippets do not pay for them on every run
# and so they belong to the snapshot that is restored after each run.
PRELOADED = (
    "base64 collections copy csv dataclasses datetime decimal enum fractions functools hashlib heapq html "
    "itertools math operator random re statistics string textwrap time typing unicodedata urllib.parse uuid zlib"
)
for _name in PRELOADED.split():
    try:
        __import__(_name)
    except ImportError:
        pass


def _scrub_js_bridges():
    """Drops every Python-side reference to a JavaScript object made during start-up."""
    for name in [n for n in sys.modules if n == "js" or n.startswith("pyodide_js")]:
        del sys.modules[name]
    for obj in gc.get_objects():
        for namespace in (obj, _instance_dict(obj)):
            if isinstance(namespace, dict):
                for key, value in list(namespace.items()):
                    if isinstance(value, pyodide.ffi.JsProxy):
                        namespace[key] = None


def _instance_dict(obj):
    try:
        return object.__getattribute__(obj, "__dict__")
    except Exception:  # noqa: BLE001 - objects without a plain __dict__ hold nothing to scrub
        return None


def js_references():
    """Python objects still holding a JavaScript object, as JSON (an empty list after start-up)."""
    found = []
    for obj in gc.get_objects():
        for ref in gc.get_referents(obj):
            if isinstance(ref, pyodide.ffi.JsProxy):
                found.append(f"{type(obj).__name__} -> {ref!s:.60}")
    return _dumps(found)


_real_import = builtins.__import__


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name.split(".")[0] in BLOCKED_IMPORTS:
        raise ImportError(f"module '{name}' is not available in the sandbox")
    return _real_import(name, globals, locals, fromlist, level)


def _refuse_audit_hooks(event, _args):
    # An audit hook would outlive the run and see every later run's code and files.
    if event == "sys.addaudithook":
        raise RuntimeError("audit hooks are not available in the sandbox")


class _Namespace:
    """A dict (module or class namespace) and what it held after start-up."""

    __slots__ = ("owner", "keys", "values", "saved")

    def __init__(self, owner, namespace):
        self.owner = owner
        self.saved = dict(namespace)
        self.keys = tuple(self.saved)
        self.values = tuple(self.saved.values())

    def changed(self, namespace):
        # Identity checks in C (map over operator.is_not): this runs for every namespace
        # after every run, so it must cost microseconds.
        return (
            len(namespace) != len(self.keys)
            or any(map(_is_not, namespace.values(), self.values))
            or any(map(_is_not, namespace.keys(), self.keys))
        )


class _Snapshot:
    """What a run may change in the interpreter, captured once after start-up."""

    def __init__(self):
        self.builtins = _Namespace(builtins, builtins.__dict__)
        self.modules = dict(sys.modules)
        self.module_namespaces = []
        self.class_namespaces = []
        seen_classes = set()
        for mod in self.modules.values():
            namespace = getattr(mod, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            self.module_namespaces.append(_Namespace(mod, namespace))
            for value in namespace.values():
                # Heap types are the classes written in Python, whose attributes can be set.
                if isinstance(value, type) and value.__flags__ & (1 << 9) and id(value) not in seen_classes:
                    seen_classes.add(id(value))
                    self.class_namespaces.append(_Namespace(value, value.__dict__))
        self.path = list(sys.path)
        self.meta_path = list(sys.meta_path)
        self.path_hooks = list(sys.path_hooks)
        self.gc_callbacks = list(gc.callbacks)
        self.environ = dict(os.environ)
        self.cwd = os.getcwd()
        self.recursion_limit = sys.getrecursionlimit()
        self.int_max_str_digits = sys.get_int_max_str_digits()
        self.sigint = signal.getsignal(signal.SIGINT)
        self.dirs = ["/tmp", self.environ.get("HOME", "/home/pyodide")]

    def restore(self):
        if self.builtins.changed(builtins.__dict__):
            _restore_dict(builtins.__dict__, self.builtins)
        # Module namespaces before sys.modules: `sys.modules` itself may have been rebound.
        for ns in self.module_namespaces:
            if ns.changed(ns.owner.__dict__):
                _restore_dict(ns.owner.__dict__, ns)
        for ns in self.class_namespaces:
            if ns.changed(ns.owner.__dict__):
                _restore_class(ns.owner, ns)
        modules = sys.modules
        if len(modules) != len(self.modules) or any(map(_is_not, modules.values(), self.modules.values())):
            for name in [n for n in modules if n not in self.modules]:
                del modules[name]
            modules.update(self.modules)
        sys.path[:] = self.path
        sys.meta_path[:] = self.meta_path
        sys.path_hooks[:] = self.path_hooks
        sys.path_importer_cache.clear()
        gc.callbacks[:] = self.gc_callbacks
        gc.enable()
        sys.settrace(None)
        sys.setprofile(None)
        for tool in range(6):
            if sys.monitoring.get_tool(tool) is not None:
                sys.monitoring.clear_tool_id(tool)
                sys.monitoring.free_tool_id(tool)
        signal.signal(signal.SIGINT, self.sigint)
        sys.setrecursionlimit(self.recursion_limit)
        sys.set_int_max_str_digits(self.int_max_str_digits)
        if dict(os.environ) != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        os.chdir(self.cwd)
        for top in self.dirs:
            _empty_dir(top)
        linecache.cache.pop(CODE_FILENAME, None)
        # A seeded generator would make every later run's "random" numbers predictable.
        random.seed()


def _restore_dict(current, ns):
    # Key by key rather than clear()+update(): a destructor run by clear() would otherwise
    # see a half-empty module.
    for key in [k for k in current if k not in ns.saved]:
        del current[key]
    for key, value in ns.saved.items():
        if current.get(key, _MISSING) is not value:
            current[key] = value


def _restore_class(cls, ns):
    # type.__setattr__ skips metaclass hooks (Enum refuses to rebind members otherwise).
    for key in [k for k in cls.__dict__ if k not in ns.saved]:
        try:
            type.__delattr__(cls, key)
        except (AttributeError, TypeError):
            pass
    for key, value in ns.saved.items():
        if cls.__dict__.get(key, _MISSING) is not value:
            try:
                type.__setattr__(cls, key, value)
            except (AttributeError, TypeError):
                pass


def _empty_dir(top):
    try:
        entries = os.listdir(top)
    except OSError:
        return
    for entry in entries:
        path = os.path.join(top, entry)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                _empty_dir(path)
                os.rmdir(path)
            else:
                os.remove(path)
        except OSError:
            pass


def _tag_nonfinite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return {NONFINITE_TAG: "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, dict):
        return {k: _tag_nonfinite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag_nonfinite(v) for v in value]
    return value


def _user_frames_traceback(exc):
    # The innermost frames only: a deep recursion's full traceback can exhaust the heap.
    try:
        frames = [f for f in _extract_tb(exc.__traceback__, limit=-TRACEBACK_FRAMES) if f.filename == CODE_FILENAME]
        lines = ["Traceback (most recent call last):\n", *_format_list(frames)]
        lines.extend(_format_exception_only(type(exc), exc))
        return "".join(lines)
    except BaseException:  # noqa: BLE001 - the message alone still reaches the user
        return ""


def _describe(exc):
    """The last line of a Python traceback (`ZeroDivisionError: division by zero`)."""
    if isinstance(exc, SyntaxError):
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return f"{type(exc).__name__}: {exc.msg}{where}"
    try:
        return _format_exception_only(type(exc), exc)[0].strip()
    except BaseException:  # noqa: BLE001 - a broken __str__ must not hide the exception type
        return type(exc).__name__


def _type_name(value):
    return "None" if value is None else type(value).__name__


def run(code, inputs_json, max_result_chars):
    """Returns [status, payload, detail]: status is ok | error | memory | interrupted.

    Whatever the snippet changed is still in place while its own result is reported (it
    can only spoil its own result); reset() undoes it before the next run.
    """
    return _report(_execute(code, inputs_json), max_result_chars)


def reset():
    """Called by the worker after the result is sent, so callers do not wait for it."""
    _SNAPSHOT.restore()


def _execute(code, inputs_json):
    namespace = {"__name__": "__main__", "__builtins__": dict(_SNAPSHOT.builtins.saved, __import__=_guarded_import)}
    linecache.cache[CODE_FILENAME] = (len(code), None, code.splitlines(True), CODE_FILENAME)
    try:
        compiled = compile(code, CODE_FILENAME, "exec")
        exec(compiled, namespace)
        main = namespace.get("main")
        if not callable(main):
            return ("message", "The code must define a function main(...).")
        return ("value", main(**_loads(inputs_json)))
    except BaseException as exc:  # noqa: BLE001 - every failure of user code is reported, SystemExit included
        return ("exception", exc)


def _report(outcome, max_result_chars):
    kind, value = outcome
    if kind == "message":
        return ["error", value, ""]
    if kind == "exception":
        if isinstance(value, KeyboardInterrupt):
            return ["interrupted", "KeyboardInterrupt", ""]
        status = "memory" if isinstance(value, MemoryError) else "error"
        return [status, _describe(value), _user_frames_traceback(value)]
    if not isinstance(value, dict):
        return ["error", f"main() must return a dict, got {_type_name(value)}.", ""]
    detail = ""
    try:
        try:
            payload = _dumps(value, ensure_ascii=False, allow_nan=False)
        except ValueError:
            payload = _dumps(_tag_nonfinite(value), ensure_ascii=False, allow_nan=False)
            detail = "nonfinite"
    except BaseException as exc:  # noqa: BLE001 - unserialisable results are the snippet's error
        status = "memory" if isinstance(exc, MemoryError) else "error"
        return [status, _describe(exc), ""]
    if len(payload) > max_result_chars:
        return ["error", f"The result of main() is too large ({len(payload)} characters as JSON).", ""]
    return ["ok", payload, detail]


_scrub_js_bridges()
gc.collect()
sys.addaudithook(_refuse_audit_hooks)
_SNAPSHOT = _Snapshot()

"""remat's passes from Python, over the C API (ctypes, as IREE's compiler
API does; Debian ships no MLIR Python package).

    from remat import compiler
    text = compiler.run_pipeline(module_text,
                                 "builtin.module(remat-finalize)")
    summary = compiler.plan(module_text, budget="60%", strategy="auto")
    summary["plans"][0]["peak_bytes"], summary["module"]

Both run in a context of their own and raise ``RematError``, whose
message holds the diagnostics as remat-opt prints them, when the module,
the pipeline or a plan fails. ``plan`` hands back the plan summary of
``-remat-rematerialize``'s ``plan-file`` (docs/plan.schema.json), with
the planned module under ``"module"``; an infeasible budget raises, with
the summary (``feasible`` false, the lowest peak) on the exception.

The library is ``libRematCAPI.so``: from ``REMAT_CAPI_LIBRARY``, else the
``lib`` folder beside an installed package, else ``build/lib`` of the
source tree this module is in. Where it cannot be loaded (a machine with no
LLVM, such as the GPU machine of bench/torch), ``plan`` runs ``remat-plan``
instead, the planner linked statically (``REMAT_PLANNER``, or ``bin``
beside the library folder or in the source tree's build, or ``PATH``);
``REMAT_PLANNER`` set makes it use the tool always.
"""

import ctypes
import json
import os
import shutil
import subprocess
import tempfile

__all__ = ["RematError", "run_pipeline", "plan", "library_path",
           "planner_tool_path"]


class RematError(RuntimeError):
    """A failure of remat's C API; the message holds the diagnostics."""

    def __init__(self, message, diagnostics=(), summary=None):
        super().__init__(message)
        self.diagnostics = list(diagnostics)
        self.summary = summary


class _StringRef(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_size_t)]


class _LogicalResult(ctypes.Structure):
    _fields_ = [("value", ctypes.c_int8)]


_CALLBACK = ctypes.CFUNCTYPE(None, _StringRef, ctypes.c_void_p)
_LIBRARY = None


def library_path():
    """Where ``libRematCAPI.so`` is looked for, first found first."""
    env = os.environ.get("REMAT_CAPI_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [
        # An install: <prefix>/lib/python3/dist-packages/remat -> <prefix>/lib.
        os.path.join(here, "..", "..", "..", "libRematCAPI.so"),
        # The source tree: python/remat -> build/lib.
        os.path.join(here, "..", "..", "build", "lib", "libRematCAPI.so"),
    ]
    for path in candidates:
        if os.path.exists(path):
            return os.path.normpath(path)
    return os.path.normpath(candidates[-1])


def _library():
    global _LIBRARY
    if _LIBRARY is None:
        path = library_path()
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise RematError(f"cannot load remat's C API ({path}): {e}; "
                             "build remat, or set REMAT_CAPI_LIBRARY") from e
        lib.rematRunPipelineOnText.argtypes = [
            _StringRef, _StringRef, _StringRef, _CALLBACK, _CALLBACK,
            ctypes.c_void_p]
        lib.rematRunPipelineOnText.restype = _LogicalResult
        lib.rematPlanText.argtypes = [
            _StringRef, _StringRef, _StringRef, _CALLBACK, _CALLBACK,
            _CALLBACK, ctypes.c_void_p]
        lib.rematPlanText.restype = _LogicalResult
        _LIBRARY = lib
    return _LIBRARY


def _ref(text, keep):
    data = text.encode()
    buffer = ctypes.create_string_buffer(data, len(data))
    keep.append(buffer)
    return _StringRef(ctypes.cast(buffer, ctypes.c_void_p), len(data))


def _collector():
    parts = []

    def collect(ref, _):
        parts.append(ctypes.string_at(ref.data, ref.length).decode())

    return parts, _CALLBACK(collect)


def _fail(what, diagnostics, summary=None):
    detail = "".join(diagnostics).strip() or "no diagnostic"
    raise RematError(f"{what} failed:\n{detail}", diagnostics, summary)


def run_pipeline(module, pipeline, source_name="<python>"):
    """Runs the textual pass pipeline `pipeline` (such as
    ``builtin.module(remat-rematerialize{budget=60%})``) on the MLIR text
    `module`; returns the resulting module as text."""
    keep = []
    output, on_output = _collector()
    diagnostics, on_diagnostic = _collector()
    result = _library().rematRunPipelineOnText(
        _ref(module, keep), _ref(source_name, keep), _ref(pipeline, keep),
        on_output, on_diagnostic, None)
    if not result.value:
        _fail(f"the pipeline '{pipeline}'", diagnostics)
    return "".join(output)


def _option(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def planner_tool_path():
    """Where ``remat-plan`` (the planner alone, statically linked) is looked
    for: ``REMAT_PLANNER``, else the ``bin`` folder beside the library
    path, else ``build/bin`` of the source tree, else ``PATH``; None when it
    is nowhere."""
    env = os.environ.get("REMAT_PLANNER")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (
            os.path.join(os.path.dirname(library_path()), "..", "bin"),
            # The source tree: python/remat -> build/bin.
            os.path.join(here, "..", "..", "build", "bin")):
        path = os.path.normpath(os.path.join(candidate, "remat-plan"))
        if os.path.exists(path):
            return path
    return shutil.which("remat-plan")


def _planner_tool():
    """The tool ``plan`` runs instead of the C API: always when
    ``REMAT_PLANNER`` names one, else only when the C API library cannot
    be loaded (a machine without LLVM) and the tool exists."""
    if os.environ.get("REMAT_PLANNER"):
        return os.environ["REMAT_PLANNER"]
    try:
        _library()
        return None
    except RematError:
        tool = planner_tool_path()
        if not tool:
            raise
        return tool


def _plan_with_tool(tool, module, text, source_name):
    """``plan`` through the ``remat-plan`` executable."""
    with tempfile.TemporaryDirectory(prefix="remat-plan.") as tmp:
        source = os.path.join(tmp, "step.mlir")
        plan_file = os.path.join(tmp, "plan.json")
        out = os.path.join(tmp, "planned.mlir")
        with open(source, "w") as f:
            f.write(module)
        try:
            run = subprocess.run(
                [tool, source, f"-remat-rematerialize={text} "
                 f"plan-file={plan_file}", "-o", out],
                capture_output=True, text=True)
        except OSError as e:
            raise RematError(f"cannot run the planner '{tool}': {e}") from e
        parsed = None
        if os.path.exists(plan_file):
            with open(plan_file) as f:
                parsed = json.load(f)
        diagnostics = [line.replace(source, source_name) + "\n"
                       for line in run.stderr.splitlines()]
        if run.returncode != 0:
            _fail(f"planning with '{text}'", diagnostics, parsed)
        with open(out) as f:
            parsed["module"] = f.read()
        return parsed


def plan(module, budget=None, strategy="auto", source_name="<python>",
         **options):
    """Plans the MLIR text `module` with ``-remat-rematerialize``: `budget`
    (``"60%"``, ``"6GiB"``, bytes), `strategy`, and any other option of
    the pass by its name with ``_`` for ``-`` (``budget_on="activations"``,
    ``work_limit=10**6``, ``rewrites="auto"``). Returns the plan summary
    (a dict: ``schema``, ``plans``) with the planned module as text under
    ``"module"``."""
    spec = {"strategy": strategy}
    if budget is not None:
        spec["budget"] = budget
    for name, value in options.items():
        spec[name.replace("_", "-")] = value
    text = " ".join(f"{k}={_option(v)}" for k, v in spec.items())
    tool = _planner_tool()
    if tool:
        return _plan_with_tool(tool, module, text, source_name)
    keep = []
    summary, on_summary = _collector()
    output, on_output = _collector()
    diagnostics, on_diagnostic = _collector()
    result = _library().rematPlanText(
        _ref(module, keep), _ref(source_name, keep), _ref(text, keep),
        on_summary, on_output, on_diagnostic, None)
    parsed = json.loads("".join(summary)) if summary else None
    if not result.value:
        _fail(f"planning with '{text}'", diagnostics, parsed)
    parsed["module"] = "".join(output)
    return parsed

# -*- Python -*-
# lit configuration of the remat test suite.

import os

import lit.formats
import lit.util
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "REMAT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test", ".py"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "utils",
                   "CMakeLists.txt", "README.md", "Fixtures"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.remat_obj_root, "test")

llvm_config.use_default_substitutions()
config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%shlibext", config.shlib_ext))


def mlir_lib(name):
    return os.path.join(config.mlir_lib_dir, "lib" + name + config.shlib_ext)


config.substitutions.extend([
    ("%remat_src", config.remat_src_root),
    ("%remat_build", config.remat_obj_root),
    ("%remat_runtime",
     os.path.join(config.remat_lib_dir, "libRematRuntime" + config.shlib_ext)),
    ("%mlir_runner_utils", mlir_lib("mlir_runner_utils")),
    ("%mlir_c_runner_utils", mlir_lib("mlir_c_runner_utils")),
    ("%mlir_include", config.mlir_include_dir.split(";")[0]),
    ("%mlir_tblgen", config.mlir_tablegen),
    ("%remat_import", config.python3 + " -m remat"),
    ("%run_main", "mlir-runner -e main -entry-point-result=void "
     "-shared-libs=%s,%s,%s" % (
         mlir_lib("mlir_runner_utils"), mlir_lib("mlir_c_runner_utils"),
         os.path.join(config.remat_lib_dir,
                      "libRematRuntime" + config.shlib_ext))),
    ("%python", config.python3),
    ("%check_close", config.python3 + " " +
     os.path.join(config.remat_src_root, "test", "utils", "check_close.py")),
])

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])

tool_dirs = [config.remat_tools_dir, config.llvm_tools_dir]
# lit itself, for a test that runs remat's suite in another build folder.
config.substitutions.append(("%lit", os.path.join(config.llvm_tools_dir, "lit")))
tools = ["remat-opt", "remat-fuzz", "remat-capi-test", "mlir-opt", "mlir-runner", "mlir-translate", "llc", "not",
         ToolSubst("%PYTHON", config.python3, unresolved="ignore")]
# More than one hardware thread: MLIR's context then has threads (the
# planner checks a plan beside its search, for example).
if len(os.sched_getaffinity(0)) > 1:
    config.available_features.add("threads")
# A build with ASan and UBSan (REMAT_SANITIZE, scripts/dev.sh test-sanitized):
# its libraries load only into a program that loads the sanitizers' runtime
# first, as remat's own tools do.
if config.remat_sanitize:
    config.available_features.add("sanitized")
# The statically linked planner (REMAT_BUILD_STATIC_PLANNER, on by default).
if os.path.exists(os.path.join(config.remat_tools_dir, "remat-plan")):
    config.available_features.add("remat-plan")
    tools.append("remat-plan")
# remat-opt links tcmalloc (REMAT_MALLOC, the top-level CMakeLists.txt).
if config.remat_malloc_library:
    config.available_features.add("remat-tcmalloc")
llvm_config.add_tool_substitutions(tools, tool_dirs)

# Style checks run when the pinned clang-format is installed (the setup
# script installs it).
clang_format = lit.util.which("clang-format-22")
if clang_format:
    config.available_features.add("clang-format")
    config.substitutions.append(("%clang_format", clang_format))

# JSON Schema validation of the report (python3-jsonschema).
import subprocess

if subprocess.call([config.python3, "-c", "import jsonschema"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("jsonschema")

# The PyTorch importer (python/remat) runs on Debian's python3-torch; the
# setup command installs it. Without it the importer tests are skipped, and
# the committed fixtures are still lowered and run.
config.environment["PYTHONPATH"] = os.path.join(config.remat_src_root, "python")
# remat.compiler (python/remat/compiler.py) loads the C API from here.
config.environment["REMAT_CAPI_LIBRARY"] = os.path.join(
    config.remat_lib_dir, "libRematCAPI.so")
if subprocess.call([config.python3, "-c", "import torch, functorch"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("torch")
else:
    lit_config.note("python3-torch is not installed: the importer tests "
                    "(REQUIRES: torch) are skipped; `scripts/dev.sh deps` "
                    "installs it")
if subprocess.call([config.python3, "-c", "import pytest"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("pytest")

# ptxas from the CUDA toolkit (optional): with it, the GPU pipeline tests
# also assemble the PTX they check. gpu-module-to-binary links libdevice
# (math functions) from the toolkit it finds through CUDA_HOME, so the
# feature needs a whole toolkit: bin/ptxas and nvvm/libdevice. A `ptxas` on
# PATH may be a wrapper script outside the toolkit, so it only hints at one.
import glob


def cuda_toolkits():
    yield os.environ.get("CUDA_HOME", "")
    on_path = lit.util.which("ptxas")
    if on_path:
        yield os.path.dirname(os.path.dirname(os.path.realpath(on_path)))
    yield "/usr/local/cuda"
    yield from sorted(glob.glob("/usr/local/cuda-*"), reverse=True)


for cuda in cuda_toolkits():
    if (cuda and os.path.isfile(os.path.join(cuda, "bin", "ptxas")) and
            glob.glob(os.path.join(cuda, "nvvm", "libdevice", "libdevice*.bc"))):
        config.available_features.add("ptxas")
        config.substitutions.append(("%ptxas", os.path.join(cuda, "bin", "ptxas")))
        config.environment["CUDA_HOME"] = cuda
        break
config.substitutions.append((
    "%extract_ptx", config.python3 + " " +
    os.path.join(config.remat_src_root, "test", "utils", "extract_ptx.py")))

# The CUDA runtime of AOT-compiled steps (built when the CUDA toolkit is
# found): its tests link steps with it and run them on the fake libcuda.
if getattr(config, "remat_have_cuda", False):
    config.available_features.add("remat-cuda-runtime")
    config.substitutions.extend([
        ("%remat_cuda_runtime",
         os.path.join(config.remat_lib_dir, "libRematCUDARuntime.a")),
        ("%remat_aot_main",
         os.path.join(config.remat_lib_dir, "libRematAOTMain.a")),
        ("%cuda_driver_lib", config.cuda_driver_library),
        ("%fake_cuda_dir", os.path.join(config.remat_lib_dir, "fake-cuda")),
        ("%host_cxx", config.host_cxx),
        ("%cuda_include_flags", " ".join(
            "-I" + d for d in config.cuda_include_dirs.split(";") if d)),
    ])
    # The fake libcuda runs copies in stream order, as late as the events
    # allow (FakeCUDAStreams.h), so that a missing event shows.
    config.environment["REMAT_FAKE_CUDA_STREAMS"] = "deferred"

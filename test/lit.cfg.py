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
tools = ["remat-opt", "mlir-opt", "mlir-runner", "not",
         ToolSubst("%PYTHON", config.python3, unresolved="ignore")]
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
# also assemble the PTX they check.
ptxas = lit.util.which("ptxas")
for cuda in [os.environ.get("CUDA_HOME", ""), "/usr/local/cuda",
             "/usr/local/cuda-13.0"]:
    if not ptxas and cuda and os.path.exists(os.path.join(cuda, "bin", "ptxas")):
        ptxas = os.path.join(cuda, "bin", "ptxas")
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
    # gpu-module-to-binary links libdevice (math functions) from the toolkit
    # it finds through CUDA_HOME; without it they stay external calls.
    config.environment["CUDA_HOME"] = os.path.dirname(os.path.dirname(
        os.path.realpath(ptxas)))
config.substitutions.append((
    "%extract_ptx", config.python3 + " " +
    os.path.join(config.remat_src_root, "test", "utils", "extract_ptx.py")))

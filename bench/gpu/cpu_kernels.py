#!/usr/bin/env python3
"""Compile a step's GPU kernels for the host CPU, to run on the fake libcuda.

Input: the output of ``remat-opt -remat-lower-to-nvvm=format=nvvm`` (the
kernels' ``gpu.module``s still in the NVVM and LLVM dialects) and of the same
followed by ``-gpu-module-to-binary`` (the images the executable loads).
Output: a shared library that the project's fake libcuda loads (environment
``REMAT_FAKE_CUDA_KERNELS``) to run every launch on the CPU, one block at a
time, its threads as fibers that switch at barriers.

The kernels are the very LLVM IR the NVPTX backend compiles, with the NVVM
special registers and ``barrier0`` made calls into the fake driver and the
libdevice functions (``__nv_expf``...) the C library's. Each kernel gets an
entry point ``remat_emu_<image hash>_<kernel>(void **params)`` taking
``cuLaunchKernel``'s parameter array (and a kernel without barriers the
symbol ``..._nosync``, so that its threads run one after the other); ``<image hash>`` is the FNV-1a 64-bit
hash (16 hex digits) of the module's image (PTX text or cubin) as the host
loads it, which is how the driver finds a module's kernels.

Tensor-core (``mma=``) kernels are not supported: warp-level matrix
instructions have no CPU form here.
"""

import argparse
import os
import re
import struct
import subprocess
import sys

LLVM = os.environ.get("LLVM_DIR_BIN", "/usr/lib/llvm-22/bin")

GPU_MODULE = re.compile(r"^(\s*)gpu\.module @([\w$.]+)\b")
BINARY = re.compile(r'^\s*gpu\.binary @([\w$.]+)\s+\[#gpu\.object<.*?'
                    r'\b(?:bin|assembly) = "((?:[^"\\]|\\.)*)">\]')
SYMBOL_DEF = re.compile(r"^\s*llvm\.(func|mlir\.global)\b[^@]*@([\w$.]+)")
ESCAPE = re.compile(rb"\\(\\|[0-9A-Fa-f]{2})")
DEFINE = re.compile(r"^define\b.*?@([\w$.]+)\((.*)\)")
# NVVM special registers and the block barrier, and what they become.
SREG = re.compile(r"@llvm\.nvvm\.read\.ptx\.sreg\.(tid|ctaid|ntid|nctaid)\.([xyz])\b")
BARRIER = re.compile(r"@llvm\.nvvm\.barrier(?:0|\.cta\.sync(?:\.aligned)?\.all)"
                     r"\((?:i32 0)?\)")
REPLACED = re.compile(r"@llvm\.nvvm\.(?:barrier|read\.ptx\.sreg)")
EMU_DECLS = "".join(
    f"declare i32 @remat_emu_{r}_{d}()\n"
    for r in ("tid", "ctaid", "ntid", "nctaid") for d in "xyz"
) + "declare void @remat_emu_barrier()\n"


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return f"{h:016x}"


def decode_mlir_string(text: str) -> bytes:
    """The bytes of an MLIR string attribute's body, as the printer escapes
    them (llvm::printEscapedString: \\\\ and \\XX)."""
    return ESCAPE.sub(
        lambda m: b"\\" if m.group(1) == b"\\" else bytes([int(m.group(1), 16)]),
        text.encode("utf-8"))


def loaded_image(data: bytes) -> bytes:
    """The image as the fake driver reads it from the pointer it is given:
    a cubin up to the end of its later header table, PTX up to a NUL."""
    if data[:4] == b"\x7fELF":
        ph, = struct.unpack_from("<Q", data, 0x20)
        sh, = struct.unpack_from("<Q", data, 0x28)
        phsize, phcount, shsize, shcount = struct.unpack_from("<HHHH", data, 0x36)
        return data[:max(ph + phsize * phcount, sh + shsize * shcount)]
    return data.split(b"\0", 1)[0]


def image_hashes(binary_mlir: str) -> dict:
    """gpu.binary name -> FNV-1a hash of its image."""
    hashes = {}
    with open(binary_mlir, encoding="utf-8") as f:
        for line in f:
            m = BINARY.match(line)
            if m:
                hashes[m.group(1)] = fnv1a64(
                    loaded_image(decode_mlir_string(m.group(2))))
    return hashes


def kernel_modules(nvvm_mlir: str):
    """Yields (module name, body lines) of each gpu.module."""
    with open(nvvm_mlir, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = GPU_MODULE.match(lines[i])
        i += 1
        if not m:
            continue
        indent, name, body = m.group(1), m.group(2), []
        while lines[i] != indent + "}":
            body.append(lines[i])
            i += 1
        yield name, body


def merge_modules(nvvm_mlir: str, hashes: dict):
    """One builtin module of every gpu.module's contents, each module's
    definitions prefixed with its image hash (kernel names repeat across
    modules; modules with one image are one), declarations once. Returns (text, [(hash, kernel, symbol)])."""
    out, declared, kernels, seen = ["module {"], set(), [], set()
    for name, body in kernel_modules(nvvm_mlir):
        if name not in hashes:
            sys.exit(f"cpu_kernels.py: no gpu.binary for gpu.module @{name}")
        if hashes[name] in seen:
            continue  # The same image (and so the same kernels) again.
        seen.add(hashes[name])
        prefix = f"k{hashes[name]}_"
        defs = []
        for line in body:
            m = SYMBOL_DEF.match(line)
            if m and (m.group(1) == "mlir.global" or line.rstrip().endswith("{")):
                defs.append(m.group(2))
                if m.group(1) == "func" and "gpu.kernel" in line:
                    kernels.append((hashes[name], m.group(2), prefix + m.group(2)))
        rename = (re.compile(r"@(" + "|".join(re.escape(d) for d in defs)
                             + r")(?![\w$.])") if defs else None)
        for line in body:
            m = SYMBOL_DEF.match(line)
            if m and m.group(2) not in defs:
                if line.strip() in declared:
                    continue
                declared.add(line.strip())
            out.append(rename.sub(lambda d: "@" + prefix + d.group(1), line)
                       if rename else line)
    out.append("}")
    return "\n".join(out) + "\n", kernels


def param_types(params: str):
    """The types of an LLVM IR parameter list (`i64 %0, ptr noundef %1`)."""
    types = []
    for p in [p.strip() for p in params.split(",") if p.strip()]:
        words = p.split()
        t = words[0]
        if len(words) > 1 and words[1].startswith("addrspace("):
            t += " " + words[1]
        types.append(t)
    return types


def host_ir(ll: str, kernels) -> str:
    """The kernels' LLVM IR for the host: NVVM registers and barriers become
    calls into the fake driver, and each kernel gets its entry point."""
    out, signatures, syncs, current = [], {}, set(), None
    for line in ll.split("\n"):
        if line.startswith(("target datalayout", "target triple")):
            continue
        if line.startswith("declare") and REPLACED.search(line):
            continue
        line = SREG.sub(lambda m: f"@remat_emu_{m.group(1)}_{m.group(2)}", line)
        if BARRIER.search(line) and current:
            syncs.add(current)
        line = BARRIER.sub("@remat_emu_barrier()", line)
        if line.startswith("@") and " addrspace(3) global " in line:
            # Shared memory, visible outside so that no call (the barrier
            # above all) is assumed to leave it unchanged.
            line = re.sub(r"= (?:internal|private) ", "= ", line)
        if line.startswith("define"):
            line = line.replace(" ptx_kernel ", " ")
            m = DEFINE.match(line)
            if m:
                signatures[m.group(1)] = param_types(m.group(2))
                current = m.group(1)
        out.append(line)
    out.append(EMU_DECLS)
    for image, kernel, symbol in kernels:
        types = signatures[symbol]
        body = [f"define void @remat_emu_{image}_{kernel}(ptr %params) {{"]
        args = []
        for i, t in enumerate(types):
            body += [f"  %s{i} = getelementptr ptr, ptr %params, i64 {i}",
                     f"  %p{i} = load ptr, ptr %s{i}",
                     f"  %a{i} = load {t}, ptr %p{i}"]
            args.append(f"{t} %a{i}")
        body += [f"  call void @{symbol}({', '.join(args)})", "  ret void", "}"]
        out += body
        if symbol not in syncs:
            # No barrier (in the kernel itself: the kernels call no other
            # function that has one): the driver runs its threads in turn.
            out.append(f"@remat_emu_{image}_{kernel}_nosync = constant i8 0")
    return "\n".join(out) + "\n"


def build(nvvm_mlir: str, binary_mlir: str, out_so: str, work: str,
          cc: str = os.path.join(LLVM, "clang")) -> int:
    """Writes `out_so`; returns the number of kernels."""
    merged, kernels = merge_modules(nvvm_mlir, image_hashes(binary_mlir))
    mlir = os.path.join(work, "kernels.mlir")
    ll = os.path.join(work, "kernels.ll")
    with open(mlir, "w") as f:
        f.write(merged)
    r = subprocess.run([f"{LLVM}/mlir-translate", "--mlir-to-llvmir", mlir],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"cpu_kernels.py: mlir-translate failed:\n{r.stderr[-3000:]}")
    with open(ll, "w") as f:
        f.write(host_ir(r.stdout, kernels))
    r = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-Wno-override-module",
                        "-x", "ir", ll, "-o", out_so],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"cpu_kernels.py: {cc} failed:\n{r.stderr[-3000:]}")
    return len(kernels)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("nvvm", help="remat-opt -remat-lower-to-nvvm=format=nvvm output")
    p.add_argument("binary", help="the same after -gpu-module-to-binary")
    p.add_argument("-o", "--output", required=True, help="the shared library")
    p.add_argument("--work", default=None, help="keep kernels.mlir/.ll here")
    a = p.parse_args()
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        n = build(a.nvvm, a.binary, a.output, a.work or tmp)
    print(f"{a.output}: {n} kernels")


if __name__ == "__main__":
    main()

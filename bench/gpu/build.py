#!/usr/bin/env python3
"""Compile a corpus model's training step (GPT by default) ahead of time for
the GPU, once per strategy.

Runs on the development machine (LLVM/MLIR, the project's build, the CUDA
toolkit's headers and stub libcuda); writes a build directory that
``bench/gpu/run.py`` runs unchanged on the GPU machine:

  OUT/manifest.json    the model's inputs and outputs (``python3 -m remat
                       emit ... --main=load --manifest``), plus ``variants``
                       (strategy, budget, the planner's predicted peak, exe)
                       and ``matmul`` (matmul-only executables)
  OUT/bin/<name>       one executable per variant and per matmul shape

Each executable is host code (``remat-lower-to-nvvm``, ``mlir-translate``,
``llc``) linked with the project's CUDA runtime (``libRematCUDARuntime``, the
``mgpu*`` ABI with a device high-water mark) and harness
(``libRematAOTMain``). It holds the kernels as cubin for ``--chip`` (sm_90:
H100 and H200), assembled here by ptxas, so the GPU machine compiles
nothing; ``--format isa`` keeps PTX for the driver to compile instead.
With ``--fake-cuda`` it also runs each executable here against the
project's fake libcuda (no kernels run: this checks the plumbing and the
device high-water mark against the prediction). With ``--cpu-kernels`` it
also compiles every executable's kernels for this CPU
(``bench/gpu/cpu_kernels.py``), so that ``run.py`` runs here, kernels
included, on the fake libcuda.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_kernels  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LLVM = os.environ.get("LLVM_DIR_BIN", "/usr/lib/llvm-22/bin")
SUMMARY = re.compile(r"predicted peak (\d+) bytes \(without remat (\d+), "
                     r"(?:activation )?budget (\d+)\)")
HEAP = re.compile(r"phase_peak_bytes=(\d+)")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"build.py: command failed ({r.returncode}): {' '.join(cmd)}\n"
                 f"{r.stderr[-4000:]}")
    return r


def cuda_stubs():
    for home in [os.environ.get("CUDA_HOME", ""), "/usr/local/cuda",
                 "/usr/local/cuda-13.0"]:
        stubs = os.path.join(home, "lib64", "stubs")
        if home and os.path.exists(os.path.join(stubs, "libcuda.so")):
            return home, stubs
    sys.exit("build.py: the CUDA toolkit (lib64/stubs/libcuda.so) was not "
             "found; set CUDA_HOME")


def compile_exe(args, mlir, exe, tmp, mma="none"):
    """MLIR with @remat_main -> AOT executable."""
    cuda_home, stubs = cuda_stubs()
    env = dict(os.environ, CUDA_HOME=cuda_home)
    nvvm = os.path.join(tmp, "nvvm.mlir")
    ll = os.path.join(tmp, "host.ll")
    obj = os.path.join(tmp, "host.o")
    # The pipeline without its last pass, then gpu-module-to-binary: the
    # same executable, and the kernels' NVVM form for --cpu-kernels.
    kernels = os.path.join(tmp, "kernels.mlir")
    run([f"{args.build}/bin/remat-opt", mlir, "-o", kernels,
         f"-remat-lower-to-nvvm=chip={args.chip} format=nvvm mma={mma}"],
        env=env)
    run([f"{args.build}/bin/remat-opt", kernels, "-o", nvvm,
         f"-gpu-module-to-binary=format={args.format}"], env=env)
    if args.cpu_kernels and mma == "none":
        so = os.path.join(args.out, "cpu-kernels", os.path.basename(exe) + ".so")
        os.makedirs(os.path.dirname(so), exist_ok=True)
        cpu_kernels.build(kernels, nvvm, so, tmp)
    run([f"{LLVM}/mlir-translate", "--mlir-to-llvmir", nvvm, "-o", ll])
    run([f"{LLVM}/llc", "-O2", "-filetype=obj", "-relocation-model=pic", ll,
         "-o", obj])
    lib = os.path.join(args.build, "lib")
    run([args.cxx, obj, f"-L{lib}", "-lRematAOTMain", "-lRematCUDARuntime",
         f"-L{stubs}", "-lcuda", "-o", exe])


def plan(args, src, spec, out):
    """Plans `src` with `spec`; returns (predicted peak, budget bytes), or
    (None, the planner's error) for an infeasible budget."""
    # The peak is checked on the program -remat-lower-to-nvvm compiles,
    # with element-wise chains fused.
    r = subprocess.run([f"{args.build}/bin/remat-opt", src, "-o", out,
                        f"-remat-rematerialize={spec} remarks=true "
                        "fuse-pointwise=true"],
                       capture_output=True, text=True)
    m = SUMMARY.search(r.stderr)
    if r.returncode != 0 and "infeasible" in r.stderr:
        error = next(l for l in r.stderr.splitlines() if "infeasible" in l)
        return None, error.split("error: ", 1)[-1][:400]
    if r.returncode != 0 or not m:
        sys.exit(f"build.py: no plan for {spec}:\n{r.stderr[-2000:]}")
    return int(m.group(1)), int(m.group(3))


MATMUL = """func.func private @rematLoadTensorF32(i64, memref<*xf32> {{bufferization.access = "write"}}) attributes {{llvm.emit_c_interface}}
func.func private @rematSaveTensorF32(i64, tensor<*xf32> {{bufferization.access = "read"}}) attributes {{llvm.emit_c_interface}}
func.func private @rematTimerStart()
func.func private @rematTimerStop()
func.func private @rematHeapResetPeak()
func.func private @rematPrintHeapStats()
func.func @matmul(%a: tensor<{m}x{k}xf32>, %b: tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %c = linalg.matmul ins(%a, %b : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) outs(%f : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  return %c : tensor<{m}x{n}xf32>
}}
func.func @remat_main() {{
  %i0 = arith.constant 0 : i64
  %i1 = arith.constant 1 : i64
  %ma = memref.alloc() : memref<{m}x{k}xf32>
  %ca = memref.cast %ma : memref<{m}x{k}xf32> to memref<*xf32>
  call @rematLoadTensorF32(%i0, %ca) : (i64, memref<*xf32>) -> ()
  %ta = bufferization.to_tensor %ma restrict writable : memref<{m}x{k}xf32> to tensor<{m}x{k}xf32>
  %mb = memref.alloc() : memref<{k}x{n}xf32>
  %cb = memref.cast %mb : memref<{k}x{n}xf32> to memref<*xf32>
  call @rematLoadTensorF32(%i1, %cb) : (i64, memref<*xf32>) -> ()
  %tb = bufferization.to_tensor %mb restrict writable : memref<{k}x{n}xf32> to tensor<{k}x{n}xf32>
  call @rematTimerStart() : () -> ()
  call @rematHeapResetPeak() : () -> ()
  %c = call @matmul(%ta, %tb) : (tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32>
  call @rematTimerStop() : () -> ()
  call @rematPrintHeapStats() : () -> ()
  %u = tensor.cast %c : tensor<{m}x{n}xf32> to tensor<*xf32>
  call @rematSaveTensorF32(%i0, %u) : (i64, tensor<*xf32>) -> ()
  return
}}
"""


def fake_run(args, exe, manifest_inputs, tmp):
    """Runs `exe` against the fake libcuda with zero-filled inputs; returns
    the device phase peak it reports."""
    inputs = os.path.join(tmp, "inputs")
    os.makedirs(inputs, exist_ok=True)
    for i in manifest_inputs:
        with open(os.path.join(inputs, f"{i['id']}.bin"), "wb") as f:
            f.truncate(i["bytes"])
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(args.build, "lib",
                                                        "fake-cuda"))
    r = run([exe, "--inputs", inputs], env=env)
    m = HEAP.search(r.stdout)
    if not m:
        sys.exit(f"build.py: {exe} printed no heap line:\n{r.stdout[-2000:]}")
    return int(m.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="the project's CMake build directory")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "gpu", "out"))
    p.add_argument("--model", default="gpt",
                   choices=["gpt", "llama", "bert", "vit"],
                   help="the corpus model (selective needs attention: all "
                        "four have it)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--dropout", type=float, default=0.0,
                   help="dropout probability; above 0 the step makes its "
                        "masks with the IR's Philox generator from a seed "
                        "input (default 0)")
    p.add_argument("--chunk-loss", type=int, default=None, metavar="N",
                   help="compute the loss in chunks of N tokens "
                        "(-remat-chunk-loss) before planning; 0 chooses")
    p.add_argument("--fuse-attention", type=int, default=None, metavar="N",
                   help="fuse attention in blocks of N queries and keys "
                        "(-remat-fuse-attention) before planning")
    p.add_argument("--chip", default="sm_90")
    p.add_argument("--format", choices=["bin", "isa"], default="bin",
                   help="kernels as cubin for --chip (ptxas here; no JIT "
                        "on the GPU: H100 and H200 are sm_90) or as PTX "
                        "(the driver compiles ~300 kernels at start-up)")
    p.add_argument("--strategies", default="none,selective,sqrt,full",
                   help="fixed schedules, comma-separated")
    p.add_argument("--auto-budgets", default="full,selective",
                   help="budgets of the auto planner, comma-separated: a "
                        "size (512MiB), a fraction of the no-remat peak "
                        "(60%%), or the name of a strategy above, for the "
                        "peak it reaches")
    p.add_argument("--offload-budgets", default="",
                   help="budgets of the auto planner with offload=true "
                        "(offloaded buffers in pinned host memory, copied "
                        "with gpu.memcpy), comma-separated as above")
    p.add_argument("--link", default="pcie5",
                   help="the host link of --offload-budgets: pcie4, pcie5, "
                        "c2c or GB/s")
    p.add_argument("--matmul", default="1024,4096",
                   help="square matmul sizes to time against torch.matmul")
    p.add_argument("--matmul-mma", default="none,tf32",
                   help="tensor-core modes of the matmul executables "
                        "(none = SIMT f32 tiles, tf32 = nvgpu.mma.sync)")
    p.add_argument("--fake-cuda", action="store_true",
                   help="also run each executable here on the fake libcuda "
                        "and hold its device peak against the prediction")
    p.add_argument("--cpu-kernels", action="store_true",
                   help="also compile each executable's kernels for this "
                        "CPU (OUT/cpu-kernels/<exe>.so), which the fake "
                        "libcuda runs with REMAT_FAKE_CUDA_KERNELS=OUT/"
                        "cpu-kernels (not for the tensor-core matmuls)")
    p.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    args = p.parse_args()

    os.makedirs(os.path.join(args.out, "bin"), exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    step = os.path.join(args.out, "step.mlir")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    run([sys.executable, "-m", "remat", "emit", args.model,
         "--layers", str(args.layers), "--hidden", str(args.hidden),
         "--heads", str(args.heads), "--seq", str(args.seq),
         "--batch", str(args.batch), "--vocab", str(args.vocab),
         "--dropout", str(args.dropout), "--dtype", "f32", "--main=load",
         "--manifest", manifest_path, "-o", step], env=env)
    with open(manifest_path) as f:
        manifest = json.load(f)
    rewrites = []
    if args.fuse_attention is not None:
        rewrites.append(f"-remat-fuse-attention=block-size={args.fuse_attention}")
    if args.chunk_loss is not None:
        rewrites.append(f"-remat-chunk-loss=chunk-size={args.chunk_loss}")
    if rewrites:
        rewritten = step + ".rewritten"
        r = run([f"{args.build}/bin/remat-opt", step, "-o", rewritten,
                 "-mlir-print-debuginfo"] + rewrites)
        os.replace(rewritten, step)
        # What each rewrite did (the first remark of each pass).
        seen = set()
        for line in r.stderr.splitlines():
            if "remark: remat-" in line:
                text = line.split("remark: ", 1)[1]
                if text.split(":", 1)[0] not in seen:
                    seen.add(text.split(":", 1)[0])
                    print(f"rewrote the step: {text}")

    variants = []
    predicted = {}
    with tempfile.TemporaryDirectory() as tmp:
        def build_variant(name, spec, budget):
            planned = os.path.join(tmp, f"{name}.mlir")
            peak, budget_bytes = plan(args, step, spec, planned)
            v = {"name": name, "strategy": spec.split()[0].split("=")[1],
                 "budget": budget}
            if peak is None:
                # Recorded, not built: run.py reports it as infeasible.
                v["infeasible"] = budget_bytes
                print(f"{name}: {budget_bytes}", flush=True)
                variants.append(v)
                return
            exe = os.path.join("bin", f"{args.model}-{name}")
            compile_exe(args, planned, os.path.join(args.out, exe), tmp)
            v.update(predicted_peak_bytes=peak, exe=exe)
            if budget is not None:
                v["budget_bytes"] = budget_bytes
            if args.fake_cuda:
                v["fake_cuda_peak_bytes"] = fake_run(
                    args, os.path.join(args.out, exe), manifest["inputs"], tmp)
            predicted[name] = peak
            variants.append(v)
            print(f"{name}: predicted peak {peak} bytes"
                  + (f", fake-CUDA device peak {v['fake_cuda_peak_bytes']}"
                     if args.fake_cuda else ""), flush=True)

        for s in [s for s in args.strategies.split(",") if s]:
            build_variant(s, f"strategy={s}", None)
        for b in [b for b in args.auto_budgets.split(",") if b]:
            # A strategy's name stands for the peak that strategy reaches.
            budget = str(predicted[b]) if b in predicted else b
            build_variant(f"auto-at-{b.rstrip('%')}",
                          f"strategy=auto budget={budget}", budget)
        for b in [b for b in args.offload_budgets.split(",") if b]:
            budget = str(predicted[b]) if b in predicted else b
            build_variant(f"auto-offload-at-{b.rstrip('%')}",
                          f"strategy=auto budget={budget} offload=true "
                          f"link={args.link}", budget)
        matmuls = []
        for size in [int(s) for s in args.matmul.split(",") if s]:
            src = os.path.join(tmp, f"matmul-{size}.mlir")
            with open(src, "w") as f:
                f.write(MATMUL.format(m=size, n=size, k=size))
            for mma in [m for m in args.matmul_mma.split(",") if m]:
                suffix = "" if mma == "none" else f"-{mma}"
                exe = os.path.join("bin", f"matmul-{size}{suffix}")
                compile_exe(args, src, os.path.join(args.out, exe), tmp, mma)
                matmuls.append({"m": size, "n": size, "k": size, "mma": mma,
                                "exe": exe})
    manifest["variants"] = variants
    manifest["matmul"] = matmuls
    manifest["build"] = {"chip": args.chip, "format": args.format,
                         "command": " ".join(sys.argv)}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.remove(step)
    size = sum(os.path.getsize(os.path.join(args.out, "bin", e))
               for e in os.listdir(os.path.join(args.out, "bin")))
    print(f"wrote {args.out}: {len(variants)} variants, {len(matmuls)} "
          f"matmuls, {size / 2**20:.1f} MiB of executables")


if __name__ == "__main__":
    main()

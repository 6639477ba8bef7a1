"""bench/gpu/cpu_kernels.py's text transformations (the end-to-end run is
test/GPU/aot-gpt-cpu-kernels.test)."""

import importlib.util
import os
import struct

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

_spec = importlib.util.spec_from_file_location(
    "remat_cpu_kernels", os.path.join(REPO, "bench", "gpu", "cpu_kernels.py"))
K = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(K)


def test_fnv1a64_known_values():
    # The FNV-1a 64-bit reference values.
    assert K.fnv1a64(b"") == "cbf29ce484222325"
    assert K.fnv1a64(b"a") == "af63dc4c8601ec8c"


def test_decode_mlir_string():
    assert K.decode_mlir_string(r"\7FELF\02\\x") == b"\x7fELF\x02\\x"
    assert K.decode_mlir_string("plain") == b"plain"


def test_loaded_image_cuts_cubin_at_later_header_table():
    elf = bytearray(200)
    elf[:4] = b"\x7fELF"
    struct.pack_into("<Q", elf, 0x20, 120)   # program headers at 120
    struct.pack_into("<Q", elf, 0x28, 64)    # section headers at 64
    struct.pack_into("<HHHH", elf, 0x36, 56, 1, 8, 4)
    assert len(K.loaded_image(bytes(elf))) == 176
    assert K.loaded_image(b".version 8.0\0trailing") == b".version 8.0"


def test_merge_renames_definitions_and_keeps_one_declaration(tmp_path):
    nvvm = tmp_path / "k.mlir"
    nvvm.write_text("""module {
  gpu.module @a [#nvvm.target] {
    llvm.func @__nv_expf(f32) -> f32
    llvm.func @k(%arg0: i64) attributes {gpu.kernel, nvvm.kernel} {
      llvm.return
    }
  }
  gpu.module @b [#nvvm.target] {
    llvm.func @__nv_expf(f32) -> f32
    llvm.func @k(%arg0: i64) attributes {gpu.kernel, nvvm.kernel} {
      llvm.return
    }
  }
  gpu.module @c [#nvvm.target] {
    llvm.func @k(%arg0: i64) attributes {gpu.kernel, nvvm.kernel} {
      llvm.return
    }
  }
}
""")
    text, kernels = K.merge_modules(str(nvvm), {"a": "1" * 16, "b": "2" * 16,
                                                 "c": "1" * 16})
    assert text.count("llvm.func @__nv_expf") == 1
    assert "@k1111111111111111_k(" in text and "@k2222222222222222_k(" in text
    # @c has @a's image: the same kernels, compiled once.
    assert kernels == [("1" * 16, "k", "k1111111111111111_k"),
                       ("2" * 16, "k", "k2222222222222222_k")]


def test_host_ir_rewrites_registers_barriers_and_adds_entries():
    ll = """target datalayout = "e-i64:64"
target triple = "nvptx64-nvidia-cuda"
@k1_s = internal addrspace(3) global [4 x float] undef
define ptx_kernel void @k1_k(i64 %0, ptr %1, float %2) {
  %t = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  call void @llvm.nvvm.barrier.cta.sync.aligned.all(i32 0)
  ret void
}
define ptx_kernel void @k2_k(i64 %0) {
  %b = call i32 @llvm.nvvm.read.ptx.sreg.ctaid.z()
  ret void
}
declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare void @llvm.nvvm.barrier.cta.sync.aligned.all(i32)
"""
    out = K.host_ir(ll, [("1", "k", "k1_k"), ("2", "k", "k2_k")])
    assert "target triple" not in out and "ptx_kernel" not in out
    assert "@llvm.nvvm" not in out
    assert "call i32 @remat_emu_tid_x()" in out
    assert "call void @remat_emu_barrier()" in out
    assert "@k1_s = addrspace(3) global" in out
    assert "define void @remat_emu_1_k(ptr %params)" in out
    assert "load float, ptr %p2" in out
    assert "call void @k1_k(i64 %a0, ptr %a1, float %a2)" in out
    # Only the kernel without a barrier is marked.
    assert "@remat_emu_2_k_nosync" in out
    assert "@remat_emu_1_k_nosync" not in out

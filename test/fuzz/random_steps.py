"""Random training steps for the differential fuzzer (diff_fuzz.py).

A step has 1 to 4 layers, each a chain of element-wise ops, matmuls with a
weight and, sometimes, an attention core (a batch matmul, an element-wise
op, another batch matmul), every op located at `blocks.<layer>.<op>` so the
planner's layer schedules apply, on f32 tensors of 16x16 (and 2x8x8 and
2x8x16 inside attention). The backward reads a random subset of the forward
values in random order, between temporaries of random sizes that it reads
later (check_optimal.py's construction), and returns two accumulators.
`main` calls any number of renamed copies of the step on the same inputs,
resetting the tracking heap's peak before each call and printing it and
every output after it.
"""

N = 16
T2 = f"tensor<{N}x{N}xf32>"
T3 = "tensor<2x8x8xf32>"
TQ = "tensor<2x8x16xf32>"
TK = "tensor<2x16x8xf32>"
MAP2 = "affine_map<(i, j) -> (i, j)>"
MAP3 = "affine_map<(b, i, j) -> (b, i, j)>"


class Step:
    """Builds one step's text; values are (name, type) pairs."""

    def __init__(self, rng):
        self.rng = rng
        self.lines = []
        self.count = 0
        self.values = []  # forward values: (name, type)

    def fresh(self):
        self.count += 1
        return f"%v{self.count}"

    def emit(self, text):
        self.lines.append("  " + text)

    def unary(self, x, t, fn, loc):
        out, e = self.fresh(), self.fresh()
        m, par = (MAP2, '"parallel", "parallel"') if t == T2 else \
            (MAP3, '"parallel", "parallel", "parallel"')
        body = {"tanh": "math.tanh %a : f32", "sin": "math.sin %a : f32",
                "cos": "math.cos %a : f32",
                "half": "arith.mulf %a, %half : f32"}[fn]
        self.emit(f"{e} = tensor.empty() : {t}")
        self.emit(f"{out} = linalg.generic {{indexing_maps = [{m}, {m}], "
                  f"iterator_types = [{par}]}} ins({x} : {t}) outs({e} : {t}) "
                  f"{{\n  ^bb0(%a: f32, %o: f32):\n    %r = {body}\n"
                  f"    linalg.yield %r : f32\n  }} -> {t} loc(\"{loc}\")")
        return out

    def binary(self, a, b, t, op, loc):
        out = self.fresh()
        self.emit(f"{out} = arith.{op} {a}, {b} : {t} loc(\"{loc}\")")
        return out

    def matmul(self, a, w, loc):
        e, f, out = self.fresh(), self.fresh(), self.fresh()
        self.emit(f"{e} = tensor.empty() : {T2}")
        self.emit(f"{f} = linalg.fill ins(%zero : f32) outs({e} : {T2}) -> {T2}")
        self.emit(f"{out} = linalg.matmul ins({a}, {w} : {T2}, {T2}) "
                  f"outs({f} : {T2}) -> {T2} loc(\"{loc}\")")
        return out

    def attention(self, h, prefix):
        q = self.fresh()
        self.emit(f"{q} = tensor.expand_shape {h} [[0, 1], [2]] "
                  f"output_shape [2, 8, 16] : {T2} into {TQ} "
                  f"loc(\"{prefix}.q\")")
        ke, k = self.fresh(), self.fresh()
        self.emit(f"{ke} = tensor.empty() : {TK}")
        self.emit(f"{k} = linalg.transpose ins({q} : {TQ}) outs({ke} : {TK}) "
                  f"permutation = [0, 2, 1] loc(\"{prefix}.k\")")
        se, sf, s = self.fresh(), self.fresh(), self.fresh()
        self.emit(f"{se} = tensor.empty() : {T3}")
        self.emit(f"{sf} = linalg.fill ins(%zero : f32) outs({se} : {T3}) -> {T3}")
        self.emit(f"{s} = linalg.batch_matmul ins({q}, {k} : {TQ}, {TK}) "
                  f"outs({sf} : {T3}) -> {T3} loc(\"{prefix}.scores\")")
        self.values.append((s, T3))
        p = self.unary(s, T3, "tanh", prefix + ".probs")
        self.values.append((p, T3))
        oe, of, o = self.fresh(), self.fresh(), self.fresh()
        self.emit(f"{oe} = tensor.empty() : {TQ}")
        self.emit(f"{of} = linalg.fill ins(%zero : f32) outs({oe} : {TQ}) -> {TQ}")
        self.emit(f"{o} = linalg.batch_matmul ins({p}, {q} : {T3}, {TQ}) "
                  f"outs({of} : {TQ}) -> {TQ} loc(\"{prefix}.out\")")
        out = self.fresh()
        self.emit(f"{out} = tensor.collapse_shape {o} [[0, 1], [2]] "
                  f": {TQ} into {T2} loc(\"{prefix}.merge\")")
        return out


def generate(rng, max_residuals=12):
    """Returns (step function text, number of weight arguments)."""
    s = Step(rng)
    layers = rng.randint(1, 4)
    s.emit("%zero = arith.constant 0.0 : f32")
    s.emit("%half = arith.constant 0.5 : f32")
    h = "%x"
    for layer in range(layers):
        prefix = f"blocks.{layer}"
        for op in range(rng.randint(2, 5)):
            loc = f"{prefix}.op{op}"
            r = rng.random()
            if r < 0.2:
                h = s.matmul(h, f"%w{layer}", loc)
                h = s.unary(h, T2, "tanh", loc + ".act")
            elif r < 0.35 and len(s.values) > 1:
                other = rng.choice([v for v, t in s.values if t == T2] or [h])
                h = s.binary(h, other, T2, rng.choice(["addf", "mulf"]), loc)
            else:
                h = s.unary(h, T2, rng.choice(["tanh", "sin", "cos", "half"]),
                            loc)
            s.values.append((h, T2))
        if rng.random() < 0.4:
            h = s.attention(h, prefix + ".attn")
            h = s.unary(h, T2, "tanh", prefix + ".attn.act")
            s.values.append((h, T2))
    head = s.unary(h, T2, "sin", "head")
    s.values.append((head, T2))

    count = min(max_residuals, len(s.values), rng.randint(2, max_residuals))
    saved = rng.sample(s.values, count)
    args = ", ".join(v for v, _ in saved)
    types = ", ".join(t for _, t in saved)
    body = ["  ^bb0(" + ", ".join(f"%b{i}: {t}" for i, (_, t) in
                                   enumerate(saved)) + "):",
            "    %zb = arith.constant 0.0 : f32",
            f"    %a2e = tensor.empty() : {T2}",
            f"    %a2_0 = linalg.fill ins(%zb : f32) outs(%a2e : {T2}) -> {T2}",
            f"    %a3e = tensor.empty() : {T3}",
            f"    %a3_0 = linalg.fill ins(%zb : f32) outs(%a3e : {T3}) -> {T3}"]
    acc = {T2: "%a2_0", T3: "%a3_0"}
    order = list(range(count))
    rng.shuffle(order)
    pending = []
    for step, i in enumerate(order):
        t = saved[i][1]
        if rng.random() < 0.5:
            cols = rng.choice([16, 16, 32, 64])
            tt = f"tensor<{N}x{cols}xf32>"
            body.append(f"    %t{step}e = tensor.empty() : {tt}")
            body.append(f"    %t{step} = linalg.fill ins(%zb : f32) "
                        f"outs(%t{step}e : {tt}) -> {tt}")
            pending.append((f"%t{step}", tt))
        nxt = f"%acc{step}"
        body.append(f"    {nxt} = arith.addf {acc[t]}, %b{i} : {t}")
        acc[t] = nxt
        if pending and rng.random() < 0.5:
            tname, tt = pending.pop(0)
            body.append(f"    %s{step} = tensor.extract_slice {tname}[0, 0] "
                        f"[{N}, {N}] [1, 1] : {tt} to {T2}")
            body.append(f"    %u{step} = arith.addf {acc[T2]}, %s{step} : {T2}")
            acc[T2] = f"%u{step}"
    for j, (tname, tt) in enumerate(pending):
        body.append(f"    %sl{j} = tensor.extract_slice {tname}[0, 0] "
                    f"[{N}, {N}] [1, 1] : {tt} to {T2}")
        body.append(f"    %ul{j} = arith.addf {acc[T2]}, %sl{j} : {T2}")
        acc[T2] = f"%ul{j}"
    body.append(f"    remat.yield {acc[T2]}, {acc[T3]} : {T2}, {T3}")
    weights = "".join(f", %w{i}: {T2}" for i in range(layers))
    text = (f"func.func @step(%x: {T2}{weights}) -> ({T2}, {T3}) {{\n" +
            "\n".join(s.lines) + "\n" +
            f"  %g:2 = remat.backward({args}) : ({types}) -> ({T2}, {T3}) {{\n" +
            "\n".join(body) + "\n  }\n" +
            f"  return %g#0, %g#1 : {T2}, {T3}\n}}\n")
    return text, layers


def dense(rng, rows, cols):
    vals = [[f"{rng.uniform(-0.5, 0.5):.6f}" for _ in range(cols)]
            for _ in range(rows)]
    return "[" + ", ".join("[" + ", ".join(r) + "]" for r in vals) + "]"


def main_function(rng, layers, functions):
    """`main` calling each of `functions` (names of renamed steps)."""
    lines = ["func.func private @rematPrintTensorF32(i64, tensor<*xf32>) "
             "attributes {llvm.emit_c_interface}",
             "func.func private @rematPrintHeapStats()",
             "func.func private @rematHeapResetPeak()",
             "func.func @main() {",
             f"  %x = arith.constant dense<{dense(rng, N, N)}> : {T2}"]
    for i in range(layers):
        lines.append(f"  %w{i} = arith.constant dense<{dense(rng, N, N)}> : {T2}")
    weights = "".join(f", %w{i}" for i in range(layers))
    wtypes = "".join(f", {T2}" for _ in range(layers))
    for k, name in enumerate(functions):
        lines += [
            "  call @rematHeapResetPeak() : () -> ()",
            f"  %r{k}:2 = call @{name}(%x{weights}) : ({T2}{wtypes}) -> ({T2}, {T3})",
            "  call @rematPrintHeapStats() : () -> ()",
            f"  %id{k}a = arith.constant {2 * k} : i64",
            f"  %id{k}b = arith.constant {2 * k + 1} : i64",
            f"  %c{k}a = tensor.cast %r{k}#0 : {T2} to tensor<*xf32>",
            f"  %c{k}b = tensor.cast %r{k}#1 : {T3} to tensor<*xf32>",
            f"  call @rematPrintTensorF32(%id{k}a, %c{k}a) : (i64, tensor<*xf32>) -> ()",
            f"  call @rematPrintTensorF32(%id{k}b, %c{k}b) : (i64, tensor<*xf32>) -> ()",
        ]
    lines += ["  return", "}"]
    return "\n".join(lines) + "\n"

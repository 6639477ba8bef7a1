"""Compares remat.backward's operands with what functorch saves.

For each corpus model (small config) this imports the training step, reads
the operand types of `remat.backward` from the emitted MLIR text, and
compares them, as a multiset of (shape, element type), with the saved values
of functorch's `default_partition` on the same joint graph. It prints one
line per model, and every difference with the reason for it.

Known differences: none. The importer lowers aten ops itself (no
decompositions run before partitioning), so the saved set is the same node
set; two nodes could only merge into one operand if the importer lowered one
of them as an identity of the other (clone, detach, alias), and the corpus
saves no such pair. A difference would be printed as MISMATCH below.
"""

import collections
import re
import sys

from functorch.compile import default_partition

from remat import models
from remat.__main__ import input_names
from remat.emitter import ELEM
from remat.importer import import_step

TYPE = re.compile(r"tensor<((?:\d+x)*)(\w+)>")


def backward_operand_types(text):
    line = next(l for l in text.splitlines() if "remat.backward(" in l)
    signature = line.split(" : (", 1)[1].split(") -> (", 1)[0]
    return [(tuple(int(d) for d in m.group(1).split("x") if d), m.group(2))
            for m in TYPE.finditer(signature)]


def main():
    failures = 0
    for name in sorted(models.MODELS):
        cfg = models.config(name)
        model = models.build(cfg)
        models.randomize(model, cfg)
        inputs = models.example_inputs(cfg)
        result = import_step(model, inputs, input_names=input_names(cfg))
        ours = collections.Counter(backward_operand_types(result.text))
        fwd, _ = default_partition(result.joint.module, None)
        out = next(n for n in fwd.graph.nodes if n.op == "output").args[0]
        saved = out[len(result.joint.outputs):]
        theirs = collections.Counter(
            (tuple(n.meta["val"].shape), ELEM[n.meta["val"].dtype])
            for n in saved)
        same = ours == theirs
        print(f"{name}: remat.backward operands {sum(ours.values())}, "
              f"default_partition saves {sum(theirs.values())}: "
              f"{'same shapes and counts' if same else 'MISMATCH'}")
        for key, n in (ours - theirs).items():
            print(f"  only in remat.backward: {n} x {key}")
        for key, n in (theirs - ours).items():
            print(f"  only in default_partition: {n} x {key}")
        failures += not same
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

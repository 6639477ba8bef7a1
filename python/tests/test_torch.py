"""remat.torch: remat's plans run by PyTorch through AOTAutograd.

Every model trains for 3 optimizer steps with ``remat.torch.compile`` and
with the same AOTAutograd run under functorch's ``default_partition``;
losses and gradients must be bitwise equal (the same CPU kernels run; the
backward only recomputes some of them). The bytes the backward keeps,
read from the saved tensors themselves, must equal the planner's
predicted saved-activation bytes.
"""

import operator
import os
import warnings

import pytest
import torch
import torch.nn as nn

from remat import compiler, models
from remat.emitter import UnsupportedOpError

from extra_models import Mixer, ParallelLM, TiedLM

rt = pytest.importorskip("remat.torch")
from functorch.compile import aot_module, default_partition  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def capi():
    if not os.path.exists(compiler.library_path()):
        pytest.skip(f"no libRematCAPI.so at {compiler.library_path()}")


def corpus(name, **overrides):
    cfg = models.config(name, **overrides)
    model = models.build(cfg)
    models.randomize(model, cfg)
    return model, models.example_inputs(cfg)


def parallel_lm():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    return ParallelLM(), (torch.randint(0, 32, (2, 8), generator=g),
                          torch.randint(0, 32, (2, 8), generator=g))


def mixer():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    return Mixer(), (torch.randn(2, 8, 12, generator=g),
                     torch.randint(0, 10, (2,), generator=g))


def tied_lm():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    targets = torch.randint(0, 32, (2, 8), generator=g)
    targets[0, :3] = -100  # ignored
    return TiedLM(), (torch.randint(0, 32, (2, 8), generator=g), targets)


MODELS = {"gpt": lambda: corpus("gpt"), "llama": lambda: corpus("llama"),
          "llama-lora": lambda: corpus("llama", lora_rank=2),
          "bert": lambda: corpus("bert"), "vit": lambda: corpus("vit"),
          "parallel-lm": parallel_lm, "mixer": mixer, "tied-lm": tied_lm}
BUDGETS = [("70%", "activations"), ("35%", "activations"), ("90%", "peak")]


def aot(model, partition):
    """AOTAutograd with `partition`, on PyTorch's eager kernels."""
    return aot_module(model, rt.eager_compiler, rt.eager_compiler,
                      partition_fn=partition)


def train(step, model, inputs, steps=3):
    """Losses and every parameter's gradients over `steps` SGD steps."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses, grads = [], []
    for _ in range(steps):
        opt.zero_grad()
        loss = step(*inputs)
        loss.backward()
        losses.append(loss.detach().clone())
        grads.append([p.grad.clone() for p in model.parameters()
                      if p.requires_grad])
        opt.step()
    return losses, grads


def kept_bytes(step, model, inputs):
    """Bytes of the tensors the backward keeps: distinct storages of the
    saved tensors that are not parameters, buffers or inputs."""
    tensors = list(model.parameters()) + list(model.buffers()) + \
        list(inputs)
    owned = {t.untyped_storage().data_ptr() if hasattr(t, "untyped_storage")
             else t.storage().data_ptr() for t in tensors}
    kept = {}

    def pack(t):
        s = t.untyped_storage() if hasattr(t, "untyped_storage") \
            else t.storage()
        if s.data_ptr() not in owned:
            kept[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(*inputs)
    return sum(kept.values())


@pytest.fixture(scope="module")
def reference():
    """Each model's default-partition training run, computed once."""
    out = {}
    for name, make in MODELS.items():
        model, inputs = make()
        step = aot(model, default_partition)
        out[name] = train(step, model, inputs)
    return out


def assert_bitwise_equal(run, ref):
    """Each step's loss and gradients of `run` equal `ref`'s bit for bit."""
    (losses, grads), (ref_losses, ref_grads) = run, ref
    for a, b in zip(losses, ref_losses):
        assert torch.equal(a, b), (a, b)
    for step_grads, ref_step in zip(grads, ref_grads):
        for a, b in zip(step_grads, ref_step):
            assert torch.equal(a, b)


@pytest.mark.parametrize("budget,on", BUDGETS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_compile_trains_as_default_partition(name, budget, on, reference):
    model, inputs = MODELS[name]()
    step = rt.compile(model, budget=budget, budget_on=on)
    losses, grads = train(step, model, inputs)
    assert_bitwise_equal((losses, grads), reference[name])
    plan = step.plans[-1]
    assert plan.summary["feasible"]
    assert plan.recomputed, "a budget below the saved set recomputes"
    # The bytes the backward keeps are the planner's prediction.
    assert kept_bytes(step, model, inputs) == plan.activation_bytes
    bound = plan.activation_bytes if on == "activations" else \
        plan.summary["peak_bytes"]
    assert bound <= plan.summary["budget_bytes"]


def test_default_partition_keeps_the_unplanned_bytes():
    model, inputs = MODELS["gpt"]()
    step = rt.compile(model, budget="100%", budget_on="activations")
    step(*inputs)
    plan = step.plans[-1]
    assert not plan.recomputed
    assert kept_bytes(step, model, inputs) == \
        plan.summary["baseline_activation_bytes"]
    other, inputs = MODELS["gpt"]()
    reference = aot(other, default_partition)
    reference(*inputs)
    assert kept_bytes(reference, other, inputs) == \
        plan.summary["baseline_activation_bytes"]


def test_partition_fn_with_aot_module():
    model, inputs = MODELS["mixer"]()
    partition = rt.partition_fn(budget="50%", budget_on="activations")
    step = aot(model, partition)
    step(*inputs).backward()
    (plan,) = partition.plans
    # Without remat's trace annotations, primals keep placeholder names.
    assert plan.summary["function"] == "train_step"
    assert plan.recomputed


def with_torch2_values(partition):
    """`partition` on a joint graph whose nodes carry ``meta["val"]`` as
    PyTorch 2.x's make_fx records it: a tensor per tensor node, a tuple of
    tensors per multi-output op (``native_layer_norm``, ``nll_loss_forward``,
    ``split``). torch 1.13's AOTAutograd records neither."""
    def wrapped(joint_module, joint_inputs, **kwargs):
        nodes = list(joint_module.graph.nodes)
        for n in nodes:
            meta = n.meta.get("tensor_meta")
            if hasattr(meta, "shape"):
                n.meta["val"] = torch.empty(meta.shape, dtype=meta.dtype,
                                            device="meta")
        for n in nodes:
            items = [u for u in n.users if u.target is operator.getitem]
            if items and "val" not in n.meta:
                vals = [None] * (max(u.args[1] for u in items) + 1)
                for u in items:
                    vals[u.args[1]] = u.meta.get("val")
                n.meta["val"] = tuple(vals)
        return partition(joint_module, joint_inputs, **kwargs)
    wrapped.plans = partition.plans
    return wrapped


@pytest.mark.parametrize("name", ["gpt", "llama"])
def test_tuple_values_of_torch2_are_never_saved(name, reference):
    # PyTorch 2.x: a saved tuple made the forward return it among the
    # saved tensors, and AOTAutograd failed ("'tuple' object has no
    # attribute 'untyped_storage'").
    model, inputs = MODELS[name]()
    step = rt.compile(model, budget="70%", budget_on="activations")
    step._partition = with_torch2_values(step._partition)
    losses, grads = train(step, model, inputs)
    plan = step.plans[-1]
    assert any(isinstance(n.meta.get("val"), tuple)
               for n in plan.forward), "the graph has multi-output ops"
    assert not [n for n in plan.saved
                if isinstance(n.meta.get("val"), (tuple, list))]
    assert plan.recomputed
    assert_bitwise_equal((losses, grads), reference[name])
    assert kept_bytes(step, model, inputs) == plan.activation_bytes


def test_compile_names_the_primals():
    """remat.torch.compile names the planned step's arguments after the
    model's parameters and inputs (partition_fn alone cannot: below)."""
    model, inputs = MODELS["gpt"]()
    step = rt.compile(model, budget="50%", budget_on="activations")
    step(*inputs)
    text = step.plans[-1].text
    assert "%blocks.0.attn.qkv.weight: tensor<" in text
    assert "%input0: tensor<2x8xi64>" in text
    assert "%primals_1" not in text


def test_plan_names_submodules():
    model, inputs = MODELS["gpt"]()
    summary = rt.plan(model, inputs, budget="40%", budget_on="activations")
    assert summary["activation_bytes"] < summary["baseline_activation_bytes"]
    modules = summary["modules"]
    assert "blocks.0.mlp.fc1" in modules
    saved = sum(m["saved_bytes"] for m in modules.values())
    recomputed = sum(m["recomputed_bytes"] for m in modules.values())
    assert recomputed > 0
    assert saved + recomputed >= summary["activation_bytes"]


def test_infeasible_budget_raises_with_the_lowest_peak():
    model, inputs = MODELS["gpt"]()
    step = rt.compile(model, budget="1%")
    with pytest.raises(compiler.RematError) as e:
        step(*inputs)
    assert "infeasible" in str(e.value)
    assert e.value.summary["plans"][0]["feasible"] is False


class Unknown(nn.Module):
    """A model with an op the importer has no lowering for."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return torch.cumsum(self.fc(x), dim=-1).sum()


def test_unknown_op_is_named():
    step = rt.compile(Unknown(), budget="50%")
    with pytest.raises(UnsupportedOpError, match="cumsum"):
        step(torch.randn(4, 8))


def test_unknown_op_falls_back_to_the_default_partition():
    model = Unknown()
    step = rt.compile(model, budget="50%", fallback="default")
    x = torch.randn(4, 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step(x).backward()
    assert any("cumsum" in str(w.message) for w in caught)
    assert "cumsum" in step.fallback_reason
    assert not step.plans
    expected = torch.cumsum(model.fc(x), dim=-1).sum()
    assert torch.equal(step(x), expected)


def test_bad_fallback_is_rejected():
    with pytest.raises(ValueError, match="fallback"):
        rt.compile(Unknown(), fallback="maybe")


@pytest.mark.parametrize("overrides", [dict(lora_rank=2),
                                       dict(freeze_embedding=True), {}],
                         ids=["lora", "frozen-embedding", "full"])
def test_importer_saves_what_default_partition_saves(overrides):
    """The importer's saved set (remat.backward's operands, as the planner
    counts them) is functorch's default_partition's on the same model:
    frozen parameters drop what only their gradients needed."""
    from remat.importer import import_step
    cfg = models.config("llama", **overrides)
    model = models.build(cfg)
    models.randomize(model, cfg)
    inputs = models.example_inputs(cfg)
    imported = import_step(model, inputs)
    (plan,) = compiler.plan(imported.text, budget="100%",
                            budget_on="activations")["plans"]
    step = aot(model, default_partition)
    step(*inputs)
    assert kept_bytes(step, model, inputs) == \
        plan["baseline_activation_bytes"]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert imported.grad_names == trainable

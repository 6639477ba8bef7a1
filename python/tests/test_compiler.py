"""remat.compiler: remat's passes from Python over the C API."""

import os
import subprocess

import pytest

from remat import compiler

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURE = os.path.join(ROOT, "test", "Fixtures", "gpt.mlir")


def remat_opt():
    # libRematCAPI.so is in <build>/lib, remat-opt in <build>/bin.
    return os.path.join(os.path.dirname(compiler.library_path()), "..", "bin",
                        "remat-opt")


@pytest.fixture(scope="module")
def gpt():
    if not os.path.exists(compiler.library_path()):
        pytest.skip(f"no libRematCAPI.so at {compiler.library_path()}")
    with open(FIXTURE) as f:
        return f.read()


def opt(*args):
    return subprocess.run([remat_opt(), FIXTURE, *args], capture_output=True,
                          text=True, check=True).stdout


def test_pipeline_equals_remat_opt(gpt):
    out = compiler.run_pipeline(
        gpt, "builtin.module(remat-rematerialize{budget=90%})",
        source_name=FIXTURE)
    assert out == opt("-remat-rematerialize=budget=90%")


def test_plan_returns_the_summary_and_the_module(gpt):
    summary = compiler.plan(gpt, budget="90%", strategy="auto",
                            budget_on="peak", work_limit=1000000)
    assert summary["schema"] == "remat-plan/1"
    (plan,) = summary["plans"]
    assert plan["function"] == "train_step"
    assert plan["feasible"] is True
    assert plan["peak_bytes"] <= plan["budget_bytes"]
    assert summary["module"] == opt(
        "-remat-rematerialize=budget=90% strategy=auto")


def test_a_bad_pipeline_raises_with_the_parser_message(gpt):
    with pytest.raises(compiler.RematError) as e:
        compiler.run_pipeline(gpt, "builtin.module(no-such-pass)")
    assert ("'no-such-pass' does not refer to a registered pass or pass "
            "pipeline") in str(e.value)


def test_a_bad_module_raises_with_its_location():
    if not os.path.exists(compiler.library_path()):
        pytest.skip(f"no libRematCAPI.so at {compiler.library_path()}")
    with pytest.raises(compiler.RematError) as e:
        compiler.run_pipeline("func.func @f( {", "builtin.module(canonicalize)",
                              source_name="bad.mlir")
    assert "bad.mlir:1:14: error: expected non-function type" in str(e.value)


def test_an_infeasible_budget_raises_with_the_summary(gpt):
    with pytest.raises(compiler.RematError) as e:
        compiler.plan(gpt, budget="9%", source_name="gpt.mlir")
    assert "gpt.mlir:198:3: error: remat: budget of 4694 bytes is infeasible" \
        in str(e.value)
    (plan,) = e.value.summary["plans"]
    assert plan["feasible"] is False
    assert plan["peak_bytes"] > plan["budget_bytes"]


def test_bad_options_raise(gpt):
    with pytest.raises(compiler.RematError,
                       match="unknown strategy 'bogus'"):
        compiler.plan(gpt, budget="90%", strategy="bogus")
    with pytest.raises(compiler.RematError, match="no such option nosuch"):
        compiler.plan(gpt, budget="90%", nosuch=1)

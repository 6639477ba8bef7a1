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


@pytest.fixture
def tool(monkeypatch):
    """remat-plan (the statically linked planner) in place of the C API."""
    path = compiler.planner_tool_path()
    if not path:
        pytest.skip("no remat-plan (REMAT_BUILD_STATIC_PLANNER)")
    monkeypatch.setenv("REMAT_PLANNER", path)
    return path


def test_plan_through_the_tool_equals_the_c_api(gpt, tool, monkeypatch):
    through_tool = compiler.plan(gpt, budget="75%", budget_on="peak")
    monkeypatch.delenv("REMAT_PLANNER")
    through_library = compiler.plan(gpt, budget="75%", budget_on="peak")
    for s in (through_tool, through_library):
        for p in s["plans"]:
            p.pop("work")
    assert through_tool == through_library


def test_an_infeasible_budget_through_the_tool(gpt, tool):
    with pytest.raises(compiler.RematError) as e:
        compiler.plan(gpt, budget="9%", source_name="gpt.mlir")
    assert "gpt.mlir:198:3: error: remat: budget of 4694 bytes is infeasible" \
        in str(e.value)
    assert e.value.summary["plans"][0]["feasible"] is False


def test_the_tool_stands_in_for_a_missing_library(gpt, tool, monkeypatch):
    expected = opt("-remat-rematerialize=budget=90%")
    monkeypatch.delenv("REMAT_PLANNER")
    monkeypatch.setenv("REMAT_CAPI_LIBRARY", "/nonexistent/libRematCAPI.so")
    # (Found on PATH, where neither the library's folder nor a source
    # tree's build has it: an installed package.)
    monkeypatch.setenv("PATH", os.path.dirname(tool) + os.pathsep +
                       os.environ.get("PATH", ""))
    monkeypatch.setattr(compiler, "_LIBRARY", None)
    summary = compiler.plan(gpt, budget="90%")
    assert summary["plans"][0]["feasible"] is True
    assert summary["module"] == expected

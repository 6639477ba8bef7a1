// The search is bounded by work (work-limit and exact-work-limit, in op
// visits), not by time: where a work limit stops it, the plan does not
// depend on time-limit or on the machine's load. Here the exact search on a
// generated step with 16 candidate residuals is cut at 20000 op visits of
// its own limit; a time limit of 5 s and one of 1e6 s give byte-identical
// IR and remarks.
//
// RUN: remat-opt %S/Inputs/random-step-16.mlir -o %t.short.mlir 2> %t.short.txt \
// RUN:   "-remat-rematerialize=strategy=optimal budget=85% exact-work-limit=20000 time-limit=5 remarks=true"
// RUN: remat-opt %S/Inputs/random-step-16.mlir -o %t.long.mlir 2> %t.long.txt \
// RUN:   "-remat-rematerialize=strategy=optimal budget=85% exact-work-limit=20000 time-limit=1000000 remarks=true"
// RUN: diff %t.short.mlir %t.long.mlir
// RUN: diff %t.short.txt %t.long.txt
// RUN: FileCheck %s --check-prefix=CUT < %t.short.txt
// CUT: remark: remat: predicted peak {{.*}} 0.006116 us; {{.*}}; plan optimal, {{[0-9]+}} peak evaluations; search cut: the exact search's work limit (20000 op visits) cut the exact search;
//
// The exact search's limit is its own: work-limit does not bound it, and
// with 20000 op visits of work-limit it completes (the plan below, proven).
// RUN: remat-opt %S/Inputs/random-step-16.mlir -o /dev/null 2>&1 \
// RUN:   "-remat-rematerialize=strategy=optimal budget=85% work-limit=20000 remarks=true" \
// RUN: | FileCheck %s --check-prefix=OWN
// OWN: 0.005198 us; saved activations 10240 bytes; plan optimal (proven optimal), {{[0-9]+}} peak evaluations; search complete
//
// With no work to spend, the greedy plan (always computed) is not pruned;
// each limit that cut the search is named with the parts it cut.
// RUN: remat-opt %S/Inputs/random-step-16.mlir -o /dev/null 2>&1 \
// RUN:   "-remat-rematerialize=strategy=optimal budget=85% work-limit=0 exact-work-limit=20000 remarks=true" \
// RUN: | FileCheck %s --check-prefix=ZERO
// ZERO: search cut: the work limit (0 op visits) cut pruning the greedy plan, exchanging groups of the plan and recomputing shared values once per residual; the exact search's work limit (20000 op visits) cut the exact search; peak
//
// With enough work the search completes and proves its plan, cheaper than
// the cut one.
// RUN: remat-opt %S/Inputs/random-step-16.mlir -o /dev/null 2>&1 \
// RUN:   "-remat-rematerialize=strategy=optimal budget=85% remarks=true" \
// RUN: | FileCheck %s --check-prefix=COMPLETE
// COMPLETE: 0.005198 us; saved activations 10240 bytes; plan optimal (proven optimal), {{[0-9]+}} peak evaluations; search complete
//
// A search the time limit stops says so: that plan depends on the machine.
// RUN: remat-opt %S/Inputs/random-step-16.mlir -o /dev/null 2>&1 \
// RUN:   "-remat-rematerialize=strategy=optimal budget=85% time-limit=0.000000001 remarks=true" \
// RUN: | FileCheck %s --check-prefix=TIME
// TIME: search cut: the time limit (1e-09 s) cut {{.*}}; this plan depends on the machine's speed and load
//
// auto skips the exact search above exact-limit candidate groups, and says
// so.
// RUN: remat-opt %S/Inputs/random-step-16.mlir -o /dev/null 2>&1 \
// RUN:   "-remat-rematerialize=budget=85% exact-limit=4 remarks=true" \
// RUN: | FileCheck %s --check-prefix=EXACT-LIMIT
// EXACT-LIMIT: search cut: auto ran no exact search: 16 candidate groups, above exact-limit=4
//
// The step is test/utils/check_optimal.py's generate() with seed 7 and 16
// residuals.

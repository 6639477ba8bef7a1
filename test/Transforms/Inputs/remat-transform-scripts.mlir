// Transform scripts for transform-ops.test, one per named sequence; the
// interpreter runs the one its entry-point names.
module attributes {transform.with_named_sequence} {
  transform.named_sequence @apply_checkpoints(
      %root: !transform.any_op {transform.readonly}) {
    %f = transform.structured.match ops{["func.func"]} in %root
        : (!transform.any_op) -> !transform.any_op
    %g = transform.remat.apply_checkpoints %f
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
  transform.named_sequence @rematerialize(
      %root: !transform.any_op {transform.readonly}) {
    %f = transform.structured.match ops{["func.func"]} in %root
        : (!transform.any_op) -> !transform.any_op
    %g = transform.remat.rematerialize %f
        {budget = "85%", strategy = "auto",
         options = {cost = "time", "work-limit" = 1000000, verify = true}}
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
  transform.named_sequence @infeasible(
      %root: !transform.any_op {transform.readonly}) {
    %f = transform.structured.match ops{["func.func"]} in %root
        : (!transform.any_op) -> !transform.any_op
    %g = transform.remat.rematerialize %f {budget = "9%"}
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
  transform.named_sequence @bad_option(
      %root: !transform.any_op {transform.readonly}) {
    %f = transform.structured.match ops{["func.func"]} in %root
        : (!transform.any_op) -> !transform.any_op
    %g = transform.remat.rematerialize %f {options = {nosuch = 1}}
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
  transform.named_sequence @not_isolated(
      %root: !transform.any_op {transform.readonly}) {
    %r = transform.structured.match ops{["func.return"]} in %root
        : (!transform.any_op) -> !transform.any_op
    %g = transform.remat.apply_checkpoints %r
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
  transform.named_sequence @bad_value(
      %root: !transform.any_op {transform.readonly}) {
    %f = transform.structured.match ops{["func.func"]} in %root
        : (!transform.any_op) -> !transform.any_op
    %g = transform.remat.rematerialize %f {options = {cost = [1, 2]}}
        : (!transform.any_op) -> !transform.any_op
    transform.yield
  }
}

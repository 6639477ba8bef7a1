"""Lowerings of the activations beyond the corpus's: leaky_relu, hardtanh
(ReLU6), hardswish, softplus and mish, with their backwards, each one
``linalg.generic`` with the formula PyTorch's CPU kernels use."""

from .emitter import Scalar, ew_multi, lowers, unary


def _gt(s: Scalar, a, b) -> str:
    return s._op(f"arith.cmpf ogt, {s.val(a)}, {s.val(b)} : {s.elem}")


def _le(s: Scalar, a, b) -> str:
    return s._op(f"arith.cmpf ole, {s.val(a)}, {s.val(b)} : {s.elem}")


def _lt(s: Scalar, a, b) -> str:
    return s._op(f"arith.cmpf olt, {s.val(a)}, {s.val(b)} : {s.elem}")


def _or(s: Scalar, a: str, b: str) -> str:
    return s._op(f"arith.ori {a}, {b} : i1")


def _log1p(s: Scalar, a) -> str:
    return s.un("math.log1p", a)


def _leaky_relu(s, x, negative_slope=0.01):
    return s.select(_gt(s, x, 0.0), x, s.mul(x, float(negative_slope)))


def _leaky_relu_backward(s, g, x, negative_slope, self_is_result=False):
    return s.select(_gt(s, x, 0.0), g, s.mul(g, float(negative_slope)))


def _hardtanh(s, x, min_val=-1.0, max_val=1.0):
    return s.bin("minimumf", s.max(x, float(min_val)), float(max_val))


def _hardtanh_backward(s, g, x, min_val, max_val):
    outside = _or(s, _le(s, x, float(min_val)), s._op(
        f"arith.cmpf oge, {x}, {s.c(float(max_val))} : {s.elem}"))
    return s.select(outside, 0.0, g)


def _hardswish(s, x):
    relu6 = s.bin("minimumf", s.max(s.add(x, 3.0), 0.0), 6.0)
    return s.div(s.mul(x, relu6), 6.0)


def _hardswish_backward(s, g, x):
    middle = s.mul(g, s.add(s.div(x, 3.0), 0.5))
    return s.select(_lt(s, x, -3.0), 0.0,
                    s.select(_le(s, x, 3.0), middle, g))


def _softplus(s, x, beta=1.0, threshold=20.0):
    z = s.mul(x, float(beta))
    return s.select(_gt(s, z, float(threshold)), x,
                    s.div(_log1p(s, s.exp(z)), float(beta)))


def _softplus_backward(s, g, x, beta, threshold):
    z = s.exp(s.mul(x, float(beta)))
    return s.select(_gt(s, s.mul(x, float(beta)), float(threshold)), g,
                    s.div(s.mul(g, z), s.add(z, 1.0)))


def _mish(s, x):
    return s.mul(x, s.tanh(_log1p(s, s.exp(x))))


def _mish_backward(s, g, x):
    sigmoid = s.sigmoid(x)
    t = s.tanh(_log1p(s, s.exp(x)))
    return s.mul(g, s.add(t, s.mul(s.mul(x, sigmoid),
                                   s.sub(1.0, s.mul(t, t)))))


for _name, _forward, _backward in (
        ("leaky_relu", _leaky_relu, _leaky_relu_backward),
        ("hardtanh", _hardtanh, _hardtanh_backward),
        ("hardswish", _hardswish, _hardswish_backward),
        ("softplus", _softplus, _softplus_backward),
        ("mish", _mish, _mish_backward)):
    lowers(f"aten.{_name}.default")(unary(_forward))
    lowers(f"aten.{_name}_backward.default")(ew_multi(_backward))

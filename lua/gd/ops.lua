-- Generated from src/ops.def by scripts/gen-ops.sh; do not edit.
-- gd.ops: the operation codes of libgd (src/ops.def), by name, and their lists.
-- gd.ops.binary.add == C.GD_OP_ADD; gd.ops.unary, gd.ops.reduce, gd.ops.ternary alike
-- gd.ops.binary_list[i] = {name, int64, doc, code = i - 1}: the entries in code order
local M = {}
M.binary_list = {
{"add", 1 == 1, "a + b (int64 wraps)"},
{"sub", 1 == 1, "a - b (int64 wraps)"},
{"mul", 1 == 1, "a * b (int64 wraps)"},
{"div", 0 == 1, "a / b, true division (int64 operands give float32)"},
{"pow", 1 == 1, "a ^ b (int64: a negative exponent is an error)"},
{"mod", 1 == 1, "remainder with the sign of b, as torch.remainder (int64: b = 0 is an error)"},
{"maximum", 1 == 1, "the larger of a and b (NaN wins)"},
{"minimum", 1 == 1, "the smaller of a and b (NaN wins)"},
{"eq", 1 == 1, "1 where a == b, else 0"},
{"ne", 1 == 1, "1 where a ~= b, else 0"},
{"lt", 1 == 1, "1 where a < b, else 0"},
{"le", 1 == 1, "1 where a <= b, else 0"},
{"gt", 1 == 1, "1 where a > b, else 0"},
{"ge", 1 == 1, "1 where a >= b, else 0"},
}
M.unary_list = {
{"neg", 1 == 1, "-x"},
{"abs", 1 == 1, "|x|"},
{"sqrt", 0 == 1, "square root"},
{"exp", 0 == 1, "e^x"},
{"log", 0 == 1, "natural logarithm"},
{"square", 1 == 1, "x * x"},
{"sign", 1 == 1, "-1, 0 or 1 (NaN stays NaN)"},
{"relu", 1 == 1, "max(x, 0)"},
{"tanh", 0 == 1, "hyperbolic tangent"},
{"sigmoid", 0 == 1, "1 / (1 + e^-x)"},
{"floor", 1 == 1, "round down"},
{"ceil", 1 == 1, "round up"},
{"round", 1 == 1, "round half to even (PyTorch's)"},
{"sin", 0 == 1, "sine"},
{"cos", 0 == 1, "cosine"},
{"rsqrt", 0 == 1, "1 / sqrt(x)"},
{"reciprocal", 0 == 1, "1 / x"},
{"clamp", 1 == 1, "min(max(x, p1), p2); either bound may be infinite (int64: bounds saturate)"},
{"pows", 1 == 1, "x ^ p1"},
{"rpows", 1 == 1, "p1 ^ x"},
{"log1p", 0 == 1, "log(1 + x), accurate near 0"},
{"expm1", 0 == 1, "e^x - 1, accurate near 0"},
{"softplus", 0 == 1, "log(1 + e^(p1 x)) / p1, x itself above the threshold p2 (torch.nn.functional.softplus)"},
}
M.reduce_list = {
{"sum", false, "sum (int64: exact, wrapping)"},
{"mean", false, "mean"},
{"max", false, "largest (NaN wins; the first on ties)"},
{"min", false, "smallest (NaN wins; the first on ties)"},
{"argmax", false, "index of the largest"},
{"argmin", false, "index of the smallest"},
{"norm", false, "p-norm (p = 0 counts nonzeros, p = inf the largest |x|)"},
{"prod", false, "product"},
{"var", false, "variance with a correction (1: unbiased)"},
{"std", false, "standard deviation with a correction"},
{"logsumexp", false, "log(sum(exp(x - m))) + m with m the max: no overflow"},
}
M.ternary_list = {
{"add_scaled", false, "o0 = o0 + v * o1 (add_ with alpha)", 2},
{"addcmul", false, "o0 = o0 + v * o1 * o2", 3},
{"addcdiv", false, "o0 = o0 + v * o1 / o2", 3},
{"where", false, "o0 = o1 ~= 0 ? o2 : o3", 4},
}
-- each entry {name, int64, doc[, nops]} becomes {name =, int64 =, doc =, nops =, code =}
local function codes(list)
  local t = {}
  for i, e in ipairs(list) do
    list[i] = {name = e[1], int64 = e[2], doc = e[3], nops = e[4], code = i - 1}
    t[e[1]] = i - 1
  end
  return t
end
M.binary, M.unary = codes(M.binary_list), codes(M.unary_list)
M.reduce, M.ternary = codes(M.reduce_list), codes(M.ternary_list)
return M

--- gd.nn.init: PyTorch's torch.nn.init (issue 14): in-place initialisers
-- that fill a tensor and return it, with PyTorch's names, defaults, gain
-- (calculate_gain) and fan rules (_calculate_fan_in_and_fan_out: fan_in =
-- size(2) * receptive field, fan_out = size(1) * receptive field, the
-- receptive field being the product of the dimensions after the second).
-- Draws come from gd's generator (gd.manual_seed).
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local fmt = string.format

local M = {}

local function tensor_arg(fname, t)
  if not gd.is_tensor(t) then check.raise(fmt("gd.nn.init.%s: the tensor must be a tensor, got %s", fname, type(t))) end
end

local GAINS = {linear = 1, conv1d = 1, conv2d = 1, conv3d = 1, conv_transpose1d = 1, conv_transpose2d = 1,
               conv_transpose3d = 1, sigmoid = 1, tanh = 5 / 3, relu = math.sqrt(2), selu = 3 / 4}
local GAIN_NAMES = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                    "leaky_relu", "linear", "relu", "selu", "sigmoid", "tanh"}

function M.calculate_gain(nonlinearity, param)
  if nonlinearity == "leaky_relu" then
    local slope = param == nil and 0.01 or param
    check.number("gd.nn.init.calculate_gain", "param", slope)
    return math.sqrt(2 / (1 + slope * slope))
  end
  local g = GAINS[nonlinearity]
  if g == nil then
    check.raise("gd.nn.init.calculate_gain: " .. check.unknown_message("nonlinearity", nonlinearity, GAIN_NAMES))
  end
  return g
end
doc(M.calculate_gain, "gd.nn.init.calculate_gain", [[
gd.nn.init.calculate_gain(nonlinearity, [param]) -> PyTorch's recommended
  gain: 1 for linear/conv/sigmoid, 5/3 tanh, sqrt(2) relu, sqrt(2 / (1 +
  slope^2)) leaky_relu (param = slope, default 0.01), 3/4 selu.]])

local function fans(fname, t)
  local s = t.shape
  if #s < 2 then
    check.raise(fmt("gd.nn.init.%s: fan in and fan out need a tensor of 2 or more dimensions, got %d-D", fname, #s))
  end
  local receptive = 1
  for d = 3, #s do receptive = receptive * s[d] end
  return s[2] * receptive, s[1] * receptive
end
M._calculate_fan_in_and_fan_out = function(t) return fans("_calculate_fan_in_and_fan_out", t) end

function M.uniform_(t, a, b)
  tensor_arg("uniform_", t)
  return t:uniform_(a or 0, b or 1)
end
function M.normal_(t, mean, std)
  tensor_arg("normal_", t)
  return t:normal_(mean or 0, std or 1)
end
function M.constant_(t, val)
  tensor_arg("constant_", t)
  check.number("gd.nn.init.constant_", "val", val)
  return t:fill_(val)
end
function M.zeros_(t) tensor_arg("zeros_", t); return t:fill_(0) end
function M.ones_(t) tensor_arg("ones_", t); return t:fill_(1) end

function M.xavier_uniform_(t, gain)
  tensor_arg("xavier_uniform_", t)
  local fi, fo = fans("xavier_uniform_", t)
  local bound = (gain or 1) * math.sqrt(6 / (fi + fo))
  return t:uniform_(-bound, bound)
end
function M.xavier_normal_(t, gain)
  tensor_arg("xavier_normal_", t)
  local fi, fo = fans("xavier_normal_", t)
  return t:normal_(0, (gain or 1) * math.sqrt(2 / (fi + fo)))
end

local function kaiming_std(fname, t, a, mode, nonlinearity)
  mode = mode or "fan_in"
  if mode ~= "fan_in" and mode ~= "fan_out" then
    check.raise(fmt("gd.nn.init.%s: %s", fname, check.unknown_message("mode", mode, {"fan_in", "fan_out"})))
  end
  local fi, fo = fans(fname, t)
  local gain = M.calculate_gain(nonlinearity or "leaky_relu", a or 0)
  return gain / math.sqrt(mode == "fan_in" and fi or fo)
end

function M.kaiming_uniform_(t, a, mode, nonlinearity)
  tensor_arg("kaiming_uniform_", t)
  local bound = math.sqrt(3) * kaiming_std("kaiming_uniform_", t, a, mode, nonlinearity)
  return t:uniform_(-bound, bound)
end
function M.kaiming_normal_(t, a, mode, nonlinearity)
  tensor_arg("kaiming_normal_", t)
  return t:normal_(0, kaiming_std("kaiming_normal_", t, a, mode, nonlinearity))
end

--- PyTorch's orthogonal_: a normal matrix (rows = size(1), cols = the rest),
-- orthonormalised (QR with diag(R) > 0, here by modified Gram-Schmidt on the
-- longer side: the same Q), times gain.  Initialisation only: not per step.
function M.orthogonal_(t, gain)
  tensor_arg("orthogonal_", t)
  local s = t.shape
  if #s < 2 then check.raise(fmt("gd.nn.init.orthogonal_: only tensors with 2 or more dimensions are supported, got %d-D", #s)) end
  local rows = s[1]
  local cols = t:numel() / rows
  local tall = rows >= cols
  local n, m = tall and rows or cols, tall and cols or rows   -- m orthonormal vectors of length n
  local a = gd.randn(m, n, {dtype = "float64"}):totable()
  for j = 1, m do
    local v = a[j]
    for k = 1, j - 1 do
      local q, dot = a[k], 0
      for i = 1, n do dot = dot + q[i] * v[i] end
      for i = 1, n do v[i] = v[i] - dot * q[i] end
    end
    local norm = 0
    for i = 1, n do norm = norm + v[i] * v[i] end
    norm = math.sqrt(norm)
    for i = 1, n do v[i] = v[i] / norm end
  end
  local q = gd.tensor(a, {dtype = "float64"})   -- m x n, orthonormal rows
  if tall then q = q:t() end                      -- rows x cols
  q = q:contiguous() * (gain or 1)
  t:copy_(q:view(s))
  return t
end

doc(M, "gd.nn.init", [[
gd.nn.init: PyTorch's initialisers, each filling its tensor in place and
returning it: uniform_(t, [a = 0, b = 1]), normal_(t, [mean = 0, std = 1]),
constant_(t, val), zeros_(t), ones_(t), xavier_uniform_(t, [gain = 1])
(bound gain sqrt(6 / (fan_in + fan_out))), xavier_normal_(t, [gain]) (std gain
sqrt(2 / (fan_in + fan_out))), kaiming_uniform_(t, [a = 0, mode = "fan_in",
nonlinearity = "leaky_relu"]) (bound sqrt(3) gain / sqrt(fan)),
kaiming_normal_(t, [a, mode, nonlinearity]) (std gain / sqrt(fan)),
orthogonal_(t, [gain = 1]); calculate_gain(nonlinearity, [param]).  Fans as
PyTorch: fan_in = size(2) * receptive field, fan_out = size(1) * receptive.]])

return M

--- gd.nn: layers, losses and containers (issue 4).
--
--     local net = gd.nn.Sequential{gd.nn.Linear(64, 128), gd.nn.ReLU(), gd.nn.Linear(128, 10)}
--     local loss = gd.nn.CrossEntropyLoss()
--     local err, grad = loss(net(x), y)      -- y: int64 classes, 1-based
--     net:zero_grad(); net:backward(grad)    -- parameter gradients in p.grad
--
-- The files: module.lua (the Module class and the parameter arena),
-- layers.lua (Linear, Sequential, activations, Dropout), losses.lua,
-- gradcheck.lua.  The fused kernels are src/nn.c (checks) over each backend's
-- loops (src/cpu/nn.c, cuda/nn.cu).
local gd = require "gd.tensor"
local doc = require "gd.doc"
local base = require "gd.nn.module"
local layers = require "gd.nn.layers"
local losses = require "gd.nn.losses"
local conv = require "gd.nn.conv"
local norm = require "gd.nn.norm"
local embedding = require "gd.nn.embedding"
local rnn = require "gd.nn.rnn"
local check = require "gd.check"
local serialize = require "gd.serialize"
local fmt = string.format

local M = {}

M.Module = base.Module
for k, v in pairs(layers) do M[k] = v end
for k, v in pairs(losses) do M[k] = v end
for k, v in pairs(conv) do M[k] = v end
for k, v in pairs(norm) do M[k] = v end
for k, v in pairs(embedding) do M[k] = v end
for k, v in pairs(rnn) do M[k] = v end
M.gradcheck = require "gd.nn.gradcheck"
M.init = require "gd.nn.initializers"   -- torch.nn.init

--- What a saved module must look like before base.from_table rebuilds it
-- (a crafted or foreign file must give a message naming the function and the
-- field, not a Lua internal such as "attempt to get length of a number"):
-- every table with a __class has a string class of the registry, `modules`
-- (when present) is an array of such tables, `__params` (when present) an
-- array of names of tensor fields.  Returns nil or what is wrong.
local function saved_module_problem(v, where, depth)
  if depth > 100 then return where .. " nests modules deeper than 100" end
  local name = rawget(v, "__class")
  if type(name) ~= "string" then return fmt("%s has a __class that is a %s, not a class name", where, type(name)) end
  if not base.registry[name] then return fmt("%s has the unknown module class '%s'", where, name) end
  local params = rawget(v, "__params")
  if params ~= nil then
    if type(params) ~= "table" then return fmt("%s (%s) has __params that is a %s", where, name, type(params)) end
    for i = 1, #params do
      local p = params[i]
      if type(p) ~= "string" then return fmt("%s (%s) has a parameter name that is a %s", where, name, type(p)) end
      if not gd.is_tensor(rawget(v, p)) then
        return fmt("%s (%s): its parameter '%s' is %s, not a tensor", where, name, p, type(rawget(v, p)))
      end
    end
  end
  local mods = rawget(v, "modules")
  if mods ~= nil then
    if type(mods) ~= "table" or gd.is_tensor(mods) then
      return fmt("%s (%s) has modules that is a %s, not an array", where, name, type(mods))
    end
    for i = 1, #mods do
      local m = mods[i]
      if type(m) ~= "table" or gd.is_tensor(m) or rawget(m, "__class") == nil then
        return fmt("%s (%s): modules[%d] is not a module", where, name, i)
      end
      local why = saved_module_problem(m, fmt("%s.modules[%d]", where, i), depth + 1)
      if why then return why end
    end
  end
  return nil
end

--- base.from_table after the checks above, every failure named by fname.
local function rebuild_saved(fname, t, source, level)
  local why = saved_module_problem(t, "the module", 0)
  if why then error(fmt("%s: %s %s", fname, source, why), level + 1) end
  local ok, res = pcall(base.from_table, t)
  if not ok then
    -- messages of the rebuild name gd.nn.from_table or gd.nn: name fname
    local msg = tostring(res):gsub("^[^:]*:%d+: ", ""):gsub("^gd%.nn[%.%w_]*: ", "")
    error(fmt("%s: %s cannot be rebuilt: %s", fname, source, msg), level + 1)
  end
  return res
end

M.from_table = doc(function(t)
  if type(t) ~= "table" or gd.is_tensor(t) or rawget(t, "__class") == nil then
    error(fmt("gd.nn.from_table: expects what gd.load returned for a saved module (a table with __class), got %s",
      gd.is_tensor(t) and "a tensor" or type(t)), 2)
  end
  local m = rebuild_saved("gd.nn.from_table", t, "the table:", 2)
  return m -- not a tail call: rebuild_saved's errors point at the caller's line
end, "gd.nn.from_table", [[
gd.nn.from_table(t) -> the module that t (what gd.load returned for a saved
module) describes, rebuilt: classes restored, parameters in a new arena.]])

M.load = doc(function(path)
  check.path("gd.nn.load", "argument 1 (path)", path, 2)
  local ok, t = pcall(serialize.load, path)
  if not ok then error((tostring(t):gsub("^gd%.load: ", "gd.nn.load: ")), 2) end
  if type(t) ~= "table" or gd.is_tensor(t) or rawget(t, "__class") == nil then
    error(fmt("gd.nn.load: '%s' does not hold a module (save one with gd.save(path, model))", path), 2)
  end
  local m = rebuild_saved("gd.nn.load", t, fmt("'%s':", path), 2)
  return m -- not a tail call (see from_table)
end, "gd.nn.load", [[
gd.nn.load(path) -> the module saved there with gd.save(path, model).  A saved
module holds its configuration and parameters; gd.save(path, m:state_dict())
and m:load_state_dict(gd.load(path)) save and restore just the parameters.
A file that does not describe modules gdlua knows is an error naming the
part that is wrong.]])

doc(M, "gd.nn", [[
gd.nn: modules for training.  Layers: Linear(in, out, [{bias}]), ReLU(),
Tanh(), Sigmoid(), Softmax([dim]), LogSoftmax([dim]), Dropout(p), Identity(),
Conv1d/Conv2d(in, out, kernel, [{stride, padding, dilation, groups, bias}]),
ConvTranspose2d(in, out, kernel, [{stride, padding, output_padding, groups,
bias, dilation}]),
MaxPool2d(k, [{...}]), AvgPool2d(k, [{...}]), AdaptiveAvgPool2d(size),
Flatten([start, end]), BatchNorm1d/BatchNorm2d(C, [{eps, momentum, affine,
track_running_stats}]), LayerNorm(shape), GroupNorm(groups, C),
Embedding(n, dim, [{padding_idx}]), RNN/LSTM/GRU(input_size, hidden_size,
[{num_layers, batch_first, dropout, bidirectional, bias}]),
RNNCell/LSTMCell/GRUCell(input_size, hidden_size, [{bias}]) (conv.lua,
norm.lua, embedding.lua, rnn.lua); containers:
Sequential{...} (and :add(m)); losses, called as `err, grad = loss(pred,
target)`: MSELoss(), CrossEntropyLoss(), L1Loss(), SmoothL1Loss({beta}),
HuberLoss({delta}), BCELoss(), BCEWithLogitsLoss(), KLDivLoss({log_target}),
NLLLoss({weight, ignore_index}); init (torch.nn.init: xavier_uniform_, ...)
(all take {reduction = "mean" | "sum" | "none"}); gradcheck(m, x); accuracy(scores, y); load(path),
from_table(t); Module (the base class: Module:extend(name) makes a layer).
A module: m:forward(x) / m(x), m:backward(grad_out), m:parameters(),
m:zero_grad(), m:train() / m:evaluate(), m:state_dict(), m:load_state_dict(sd),
m:to(dtype | device).  All parameters of a model live in one arena (one flat
tensor; the gradients in another), so one fused optimizer step covers them.]])

return M

--- gd.nn: layers, losses and containers (issue 4).
--
--     local net = gd.nn.Sequential{gd.nn.Linear(64, 128), gd.nn.ReLU(), gd.nn.Linear(128, 10)}
--     local loss = gd.nn.CrossEntropyLoss()
--     local err, grad = loss(net(x), y)      -- y: int64 classes, 1-based
--     net:zero_grad(); net:backward(grad)    -- parameter gradients in p.grad
--
-- The files: module.lua (the Module class and the parameter arena),
-- layers.lua (Linear, Sequential, activations, Dropout), losses.lua,
-- gradcheck.lua.  The fused kernels are src/cpu/nn.c.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local base = require "gd.nn.module"
local layers = require "gd.nn.layers"
local losses = require "gd.nn.losses"

local M = {}

M.Module = base.Module
for k, v in pairs(layers) do M[k] = v end
for k, v in pairs(losses) do M[k] = v end
M.gradcheck = require "gd.nn.gradcheck"

M.from_table = doc(base.from_table, "gd.nn.from_table", [[
gd.nn.from_table(t) -> the module that t (what gd.load returned for a saved
module) describes, rebuilt: classes restored, parameters in a new arena.]])

M.load = doc(function(path)
  local t = require("gd.serialize").load(path)
  if type(t) ~= "table" or rawget(t, "__class") == nil then
    error(string.format("gd.nn.load: '%s' does not hold a module (save one with gd.save(path, model))", path), 2)
  end
  return base.from_table(t)
end, "gd.nn.load", [[
gd.nn.load(path) -> the module saved there with gd.save(path, model).  A saved
module holds its configuration and parameters; gd.save(path, m:state_dict())
and m:load_state_dict(gd.load(path)) save and restore just the parameters.]])

doc(M, "gd.nn", [[
gd.nn: modules for training.  Layers: Linear(in, out, [{bias}]), ReLU(),
Tanh(), Sigmoid(), Softmax([dim]), LogSoftmax([dim]), Dropout(p), Identity(); containers:
Sequential{...} (and :add(m)); losses, called as `err, grad = loss(pred,
target)`: MSELoss(), CrossEntropyLoss() (both take {reduction = "mean" |
"sum" | "none"}); gradcheck(m, x); accuracy(scores, y); load(path),
from_table(t); Module (the base class: Module:extend(name) makes a layer).
A module: m:forward(x) / m(x), m:backward(grad_out), m:parameters(),
m:zero_grad(), m:train() / m:evaluate(), m:state_dict(), m:load_state_dict(sd),
m:to(dtype | device).  All parameters of a model live in one arena (one flat
tensor; the gradients in another), so one fused optimizer step covers them.]])

return M

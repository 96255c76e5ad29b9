--- gd: the gdlua package.
--
-- `local gd = require "gd"` (the gdlua host does this for you and makes `gd` a
-- global).  Tensors and their constructors live on gd itself (gd.tensor,
-- gd.zeros ...); the submodules load on first use: gd.optim, gd.nn, gd.data,
-- gd.objectives, gd.experiment, gd.plot, gd.log, gd.train.
local gd = require "gd.tensor"
local doc = require "gd.doc"
require "gd.autograd"   -- t:backward(), gd.no_grad, gd.grad: part of the tensor type

gd.doc = doc

-- Submodules are the files lua/gd/<name>.lua, loaded when first touched, so
-- `require "gd"` stays cheap.  The REPL completes and documents these names.
gd._submodules = {"clock", "data", "dist", "experiment", "log", "nn", "objectives", "optim", "plot", "progress", "bench",
                  "serialize", "train"}
local lazy = {}
for _, name in ipairs(gd._submodules) do lazy[name] = true end

setmetatable(gd, {
  __index = function(t, k)
    if lazy[k] then
      local m = require("gd." .. k)
      rawset(t, k, m)
      return m
    end
    return nil
  end,
})

gd.help = doc(function(...) return require("gd.repl").help(...) end, "gd.help", [[
gd.help([x]): prints the documentation of x: a gd function, module, optimizer,
  layer, tensor method, or a name ("gd.zeros").  Without documentation it lists
  what x holds or the documented names like it; gd.help() explains the REPL.
  The gdlua host also makes it the global `help`, in scripts, `gdlua -e` and
  at the prompt (where `?x` and `x?` are short for help(x)).
  The texts come from gd.doc (help(gd.doc) says how to add your own).]])

-- Torch7 scripts' `require "optim"` gets Torch7's functional optimizers
-- (gd.optim.torch7), so their optimizer lines run unchanged.  Through gd's own
-- field: the very table gd.optim.torch7 is, even after package.loaded was reset
-- (busted does that between spec files; gd and its fields stay).
package.preload.optim = package.preload.optim or function() return gd.optim.torch7 end

local serialize = require "gd.serialize"
gd.save = serialize.save
gd.load = serialize.load

doc(gd, "gd", [[
gd: gdlua's package (a global in gdlua).
  Tensors: gd.tensor, zeros, ones, empty, full, arange, linspace, eye, rand, randn,
    manual_seed, matmul, dot, outer, diag, log1p, expm1, softplus, logsumexp,
    cumsum, cat, stack, where, save, load; methods in gd.Tensor; Torch7's
    x[{{}, 2}] indexing.  gd.cuda: is_available, device_count, synchronize ...
  gd.optim       SGD, AdaGrad, RMSProp, AdaDelta, Adam, AdamW, SMORMS3 in every
                 framework's convention (hyper.flavor); schedules in gd.optim.lr
  gd.nn          Linear, Sequential, ReLU, Tanh, Sigmoid, Softmax, LogSoftmax,
                 Dropout, MSELoss, CrossEntropyLoss, gradcheck
  gd.data        read_csv, standardize, split, loader, synthetic_regression
  gd.train       the training loop; gd.log.Logger for CSV metrics
  gd.objectives  quadratic, rosenbrock, beale, ... for optimizer experiments
  gd.experiment  run{objective, steps, runs}: comparison tables
  gd.plot        SVG line, scatter and contour plots; gd.plot.term at the REPL
help(x), ?x or x? documents any of them (gd.help(x) outside the host).]])

return gd

--- gd: the gdlua package.
--
-- `local gd = require "gd"` (the gdlua host does this for you and makes `gd` a
-- global).  Tensors and their constructors live on gd itself (gd.tensor,
-- gd.zeros ...); the submodules load on first use: gd.optim, gd.nn, gd.data,
-- gd.objectives, gd.experiment, gd.plot, gd.log, gd.train.
local gd = require "gd.tensor"
local doc = require "gd.doc"

-- The registry itself stays internal (a module registers its docs with
-- require "gd.doc"); gd.doc reads it only, so a script cannot overwrite what
-- help() prints, and calling it says what to use instead.
gd.doc = setmetatable({lookup = doc.lookup, find = doc.find, names = doc.names}, {
  __call = function()
    error("gd.doc: the documentation registry is internal; read it with help(x), gd.doc.lookup(x) or "
      .. "gd.doc.find(name)", 2)
  end,
  __newindex = function(_, k)
    error(string.format("gd.doc: the documentation registry is read-only (cannot set '%s')", tostring(k)), 2)
  end,
})
doc(gd.doc, "gd.doc", [[
gd.doc: the documentation registry, read-only: gd.doc.lookup(x) -> text, name;
gd.doc.find("gd.zeros") -> text, name; gd.doc.names() -> every documented name.
help(x) prints the same.]])

-- Submodules are the files lua/gd/<name>.lua, loaded when first touched, so
-- `require "gd"` stays cheap.  The REPL completes and documents these names.
gd._submodules = {"clock", "data", "experiment", "log", "nn", "objectives", "optim", "plot", "progress",
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

local serialize = require "gd.serialize"
gd.save = serialize.save
gd.load = serialize.load

doc(gd, "gd", [[
gd: gdlua's package (a global in gdlua).
  Tensors: gd.tensor, zeros, ones, empty, full, arange, linspace, rand, randn,
    manual_seed, matmul, cat, stack, where, save, load; methods in gd.Tensor.
  gd.optim       SGD, AdaGrad, RMSProp, AdaDelta, Adam, AdamW, SMORMS3 in every
                 framework's convention (hyper.flavor); schedules in gd.optim.lr
  gd.nn          Linear, Sequential, ReLU, Tanh, Sigmoid, Softmax, LogSoftmax,
                 Dropout, MSELoss, CrossEntropyLoss, gradcheck
  gd.data        read_csv, standardize, split, loader, synthetic_regression
  gd.train       the training loop; gd.log.Logger for CSV metrics
  gd.objectives  quadratic, rosenbrock, beale, ... for optimizer experiments
  gd.experiment  run{objective, steps, runs}: comparison tables
  gd.plot        SVG line, scatter and contour plots; gd.plot.term at the REPL
help(x) or ?x documents any of them.]])

return gd

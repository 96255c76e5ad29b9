--- gd: the gdlua package.
--
-- `local gd = require "gd"` (the gdlua host does this for you and makes `gd` a
-- global).  Tensors and their constructors live on gd itself (gd.tensor,
-- gd.zeros ...); the submodules load on first use: gd.optim, gd.nn, gd.data,
-- gd.objectives, gd.experiment, gd.plot, gd.log, gd.train.
local gd = require "gd.tensor"
local doc = require "gd.doc"

gd.doc = doc

-- Submodules are the files lua/gd/<name>.lua, loaded when first touched, so
-- `require "gd"` stays cheap and a new module needs no registration here.
local lazy = {optim = true, nn = true, data = true, objectives = true, experiment = true,
              plot = true, log = true, train = true, serialize = true, progress = true,
              clock = true}

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

return gd

--- gd.train: the training loop.
--
--     local history = gd.train{model = net, loss = gd.nn.CrossEntropyLoss(),
--                              optimizer = gd.optim.Adam(net, {lr = 1e-3}),
--                              data = gd.data.loader({X, y}, {batch_size = 32}),
--                              epochs = 10, eval = function(m) return accuracy(m) end}
--
-- One step is zero_grad, forward, loss, backward (without the input gradient
-- of the first layer, which nothing uses), optimizer step: with gd.nn's
-- reused buffers and a loader that gathers into kept tensors, a step
-- allocates nothing.  Training time is measured without the evaluations, as
-- d2l's Timer does.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local progress = require "gd.progress"
local fmt = string.format

local now = progress.now

local M = {}

local TRAIN_OPTS = {model = true, loss = true, optimizer = true, data = true, epochs = true, eval = true,
                    eval_every = true, progress = true, log = true, batch_size = true, on_step = true}

-- A source of batches: anything with :batches(epoch) (a gd.data.loader), or
-- a plain function(epoch) wrapped in this.  No closure is made per call: the
-- JIT cannot compile closure creation, and train() may be called in a loop.
local FunctionSource = {}
FunctionSource.__index = FunctionSource
function FunctionSource:batches(epoch) return self.fn(epoch) end

--- The batch source and the number of batches per epoch (nil when unknown).
local function epoch_source(fname, data, batch_size)
  if type(data) == "function" then return setmetatable({fn = data}, FunctionSource), nil end
  if type(data) == "table" and getmetatable(data) and type(data.batches) == "function" then
    return data, data.num_batches
  end
  if type(data) == "table" and (gd.is_tensor(data[1]) or gd.is_tensor(data)) then
    local l = require("gd.data").loader(data, {batch_size = batch_size or 10})
    return l, l.num_batches
  end
  error(fname .. ": data must be a gd.data.loader, a function(epoch) returning a batch iterator, or {X, y}", 3)
end

local function rows_of(x)
  if gd.is_tensor(x) then
    local c = x.c
    if c.rank > 0 then return tonumber(c.sizes[0]) end
  end
  return 1
end

local function scalar(v)
  if type(v) == "number" then return v end
  if gd.is_tensor(v) then return v:mean() end
  return 0 / 0
end

local function run(cfg)
  local fname = "gd.train"
  if type(cfg) ~= "table" then error(fname .. ": expects a table {model =, loss =, optimizer =, data =, epochs =}", 2) end
  local named = {}
  for k, v in pairs(cfg) do
    if type(k) == "string" then named[k] = v
    elseif not (type(k) == "number" and k >= 1 and k <= 5 and k == math.floor(k)) then
      error(fname .. ": positional arguments are model, loss, optimizer, data, epochs (at most 5)", 2)
    end
  end
  check.options(fname, named, TRAIN_OPTS)
  local model = cfg.model or cfg[1]
  local loss = cfg.loss or cfg[2]
  local opt = cfg.optimizer or cfg[3]
  local data = cfg.data or cfg[4]
  local epochs = cfg.epochs or cfg[5] or 1
  if type(model) ~= "table" or type(model.forward) ~= "function" then error(fname .. ": model must be a module", 2) end
  if loss == nil then error(fname .. ": loss is missing (a gd.nn loss or function(pred, target) -> value, grad)", 2) end
  if type(opt) ~= "table" or type(opt.step) ~= "function" then
    error(fname .. ": optimizer must be a gd.optim optimizer (with step and zero_grad)", 2)
  end
  check.number(fname, "epochs", epochs, {integer = true, min = 0})
  local eval, eval_every = cfg.eval, cfg.eval_every
  if eval ~= nil and type(eval) ~= "function" then error(fname .. ": eval must be a function(model, info)", 2) end
  if eval_every ~= nil then check.number(fname, "eval_every", eval_every, {integer = true, min = 1}) end
  local logger = cfg.log
  local on_step = cfg.on_step
  local source, per_epoch = epoch_source(fname, data, cfg.batch_size)
  local show = cfg.progress
  if show == nil then show = progress.isatty(2) end

  local history = {epochs = epochs, steps = 0, examples = 0, loss = {}, time = {}, eval = {}, eval_epoch = {},
                   eval_step = {}}
  local zero = opt.zero_grad and function() opt:zero_grad() end or function() model:zero_grad() end
  local steps, examples = 0, 0
  local train_seconds = 0

  local function evaluate(epoch, b)
    local frac = per_epoch and (epoch - 1) + b / per_epoch or epoch
    model:evaluate()
    local v = eval(model, {epoch = frac, step = steps, examples = examples})
    model:train()
    local k = #history.eval + 1
    history.eval[k], history.eval_epoch[k], history.eval_step[k] = v, frac, steps
    return v
  end

  local function log_row(epoch, b, train_loss, v)
    if not logger then return end
    local row = {epoch = per_epoch and (epoch - 1) + b / per_epoch or epoch, step = steps, examples = examples,
                 time = train_seconds, loss = train_loss}
    if type(v) == "number" then row.eval = v
    elseif type(v) == "table" then for k, x in pairs(v) do if type(k) == "string" then row[k] = x end end end
    logger:add(row)
  end

  model:train()
  for epoch = 1, epochs do
    local bar = show and progress.bar{total = per_epoch, label = fmt("epoch %d/%d", epoch, epochs), enabled = true,
                                      out = type(show) == "table" and show.out or nil,
                                      later = epochs - epoch} or nil
    local sum, count, b = 0, 0, 0
    local shown = {}   -- the values the bar shows, refilled each step
    local epoch_seconds = 0
    local t0 = now()
    for x, y in source:batches(epoch) do
      zero()
      local out = model:forward(x)
      local l, g = loss(out, y)
      model:backward(g, false)
      opt:step()
      b = b + 1
      steps = steps + 1
      local rows = rows_of(x)
      examples = examples + rows
      if type(l) ~= "number" then l = scalar(l) end
      sum = sum + l * rows
      count = count + rows
      if on_step then on_step(steps, l) end
      if eval and eval_every and steps % eval_every == 0 then
        local t1 = now()
        epoch_seconds = epoch_seconds + (t1 - t0)
        local v = evaluate(epoch, b)
        log_row(epoch, b, sum / count, v)
        t0 = now()
      end
      if bar then
        shown.loss = sum / count
        local last = history.eval[#history.eval]
        if type(last) == "number" then shown.eval = last end
        bar:update(b, shown, count)
      end
    end
    epoch_seconds = epoch_seconds + (now() - t0)
    train_seconds = train_seconds + epoch_seconds
    history.loss[epoch] = count > 0 and sum / count or 0 / 0
    history.time[epoch] = epoch_seconds
    if per_epoch == nil and b > 0 then per_epoch = b end
    local v
    if eval and not eval_every then v = evaluate(epoch, b) end
    if not (eval and eval_every) then log_row(epoch, b, history.loss[epoch], v) end
    if bar then
      shown.loss = history.loss[epoch]
      local last = history.eval[#history.eval]
      if type(last) == "number" then shown.eval = last end
      bar:finish(shown)
    end
  end
  history.steps, history.examples = steps, examples
  history.seconds = train_seconds
  history.seconds_per_epoch = epochs > 0 and train_seconds / epochs or 0
  return history
end

M.run = run

local TRAIN_DOC = [[
gd.train{model =, loss =, optimizer =, data =, [epochs = 1], [eval = fn], [eval_every = n],
         [progress = auto], [log = gd.log.Logger(...)], [on_step = fn(step, loss)]} -> history
  (also positionally: gd.train{model, loss, optimizer, data, epochs, ...})
  Trains: per batch (x, y) of data, zero_grad, out = model(x), err, grad =
  loss(out, y), model:backward(grad), optimizer:step().  data is a
  gd.data.loader, a function(epoch) returning a batch iterator, or {X, y}
  (batched by batch_size, default 10).  eval(model, info) runs in evaluation
  mode every eval_every steps (or after each epoch without eval_every) and
  returns a number or a table of numbers; info = {epoch (fractional), step,
  examples}.  A progress bar (epoch, batch, loss, items/s, time left) shows on
  standard error when it is a terminal, or with progress = true (or
  progress = {out = file}); progress = false hides it.
  history: loss[e] (mean training loss of epoch e), time[e] (its training
  seconds, evaluations excluded), eval[k] / eval_epoch[k] / eval_step[k] (each
  evaluation's value, fractional epoch and step), epochs, steps, examples,
  seconds, seconds_per_epoch.]]
doc(run, "gd.train.run", TRAIN_DOC)
doc(M, "gd.train", TRAIN_DOC)

return setmetatable(M, {__call = function(_, cfg) return run(cfg) end})

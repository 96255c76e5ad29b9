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
local F = require "gd.ffi"
local ffi, C = F.ffi, F.C
local fmt = string.format

local now = progress.now

local M = {}

local TRAIN_OPTS = {model = true, loss = true, optimizer = true, data = true, epochs = true, eval = true,
                    eval_every = true, progress = true, log = true, batch_size = true, on_step = true,
                    verbose = true, print_every = true, checkpoint = true, plot = true}

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

--- The checkpoint option: {path =, every = 1} (or a path).
local CHECKPOINT_OPTS = {path = true, every = true}
local function checkpoint_arg(fname, ck)
  if ck == nil then return nil end
  if type(ck) == "string" then ck = {path = ck} end
  if type(ck) ~= "table" then error(fname .. ": checkpoint must be {path = ..., every = n}, got " .. type(ck), 3) end
  check.options(fname .. " checkpoint", ck, CHECKPOINT_OPTS, 3)
  if type(ck.path) ~= "string" or ck.path == "" then
    error(fname .. ": checkpoint.path must be a file name, got " .. type(ck.path), 3)
  end
  local every = check.number(fname, "checkpoint.every", ck.every, {default = 1, integer = true, min = 1, level = 3})
  return {path = ck.path, every = every}
end

--- The plot option: a file name, or gd.plot.line's options with file.
local function plot_arg(fname, p)
  if p == nil or p == false then return nil end
  if type(p) == "string" then return {file = p} end
  if type(p) ~= "table" or type(p.file) ~= "string" then
    error(fname .. ": plot must be a file name (\"out/live.svg\") or gd.plot.line's options with file", 3)
  end
  return p
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- gd.rng_state() in a form gd.save writes (a seed past 2^53 is a uint64 cdata).
local function rng_save(s)
  local seed = s.seed
  if type(seed) == "number" then return {seed = seed, offset = s.offset} end
  return {seed_hi = tonumber(seed / 2 ^ 32), seed_lo = tonumber(seed % 2 ^ 32), offset = s.offset}
end
local function rng_restore(s)
  local seed = s.seed
  if seed == nil then seed = (0ULL + s.seed_hi) * 4294967296ULL + s.seed_lo end
  gd.set_rng_state({seed = seed, offset = s.offset})
end

local HISTORY_LISTS = {"loss", "time", "eval", "eval_epoch", "eval_step"}

--- The series of the live plot: training loss per epoch, and each numeric
-- evaluation (d2l's Animator draws them on one axis too).
local function plot_series(history)
  local x = {}
  for e = 1, #history.loss do x[e] = e end
  local series = {{name = "train loss", x = x, y = history.loss}}
  local byname, order = {}, {}
  for k, v in ipairs(history.eval) do
    if type(v) == "number" then v = {eval = v} end
    if type(v) == "table" then
      for name, val in pairs(v) do
        if type(val) == "number" and type(name) == "string" then
          if not byname[name] then byname[name] = {name = name, x = {}, y = {}}; order[#order + 1] = name end
          local s = byname[name]
          s.x[#s.x + 1], s.y[#s.y + 1] = history.eval_epoch[k], val
        end
      end
    end
  end
  table.sort(order)
  for _, name in ipairs(order) do series[#series + 1] = byname[name] end
  return series
end

--- Rewrites the live plot (atomically, through gd.plot's writer).
local function live_plot(history, live)
  local o = {title = "training", xlabel = "epoch", ylabel = "loss", legend = "top-right"}
  for k, v in pairs(live) do o[k] = v end
  local ok, err = pcall(require("gd.plot").line, plot_series(history), o)
  if not ok then error("gd.train: the live plot: " .. tostring(err), 0) end
end

--- Data-parallel runs (gd.dist): an evaluation's numbers averaged over the
-- ranks (each rank may evaluate its own shard), in sorted key order so every
-- rank's allreduce carries the same fields.
local function average_eval(dist, v)
  if dist.size() == 1 then return v end
  if type(v) == "number" then return dist._mean_numbers({v})[1] end
  if type(v) ~= "table" then return v end
  local keys, vals = {}, {}
  for k, x in pairs(v) do if type(k) == "string" and type(x) == "number" then keys[#keys + 1] = k end end
  table.sort(keys)
  for i, k in ipairs(keys) do vals[i] = v[k] end
  vals = dist._mean_numbers(vals)
  local out = {}
  for k, x in pairs(v) do out[k] = x end
  for i, k in ipairs(keys) do out[k] = vals[i] end
  return out
end

-- gd.dist's functions gd.train uses, for a process training alone
local SOLO = {size = function() return 1 end, is_main = function() return true end}

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
  local print_every = cfg.print_every
  if print_every ~= nil then check.number(fname, "print_every", print_every, {integer = true, min = 1}) end
  if cfg.verbose and print_every == nil then print_every = 1 end
  local ckpt = checkpoint_arg(fname, cfg.checkpoint)
  local live = plot_arg(fname, cfg.plot)
  local logger = cfg.log
  local on_step = cfg.on_step
  local source, per_epoch = epoch_source(fname, data, cfg.batch_size)
  -- data-parallel (mpirun, and a DataParallel model, a sharded loader or a
  -- nodeinfo optimizer): every rank trains; rank 0 alone prints, logs, plots
  -- and checkpoints, with the losses and evaluations averaged over the ranks.
  -- Processes that only share an mpirun (independent workers) train alone.
  local dist = package.loaded["gd.dist"] or rawget(gd, "dist")
  local parallel = dist and dist.size() > 1 and (getmetatable(model) == dist._DataParallel or
    (type(source) == "table" and (source.shard_size or 1) > 1) or opt._nodeinfo ~= nil)
  if not parallel then dist = SOLO end
  local main = dist.is_main()
  if not main then logger, live, print_every = nil, nil, nil end
  local show = cfg.progress
  if show == nil then show = progress.isatty(2) end
  if not main then show = false end
  local out = type(show) == "table" and show.out or nil
  local say_out = out or io.stdout      -- summaries
  local warn_out = out or io.stderr     -- the interruption notice

  local history = {epochs = epochs, steps = 0, examples = 0, loss = {}, time = {}, eval = {}, eval_epoch = {},
                   eval_step = {}}
  local zero = opt.zero_grad and function() opt:zero_grad() end or function() model:zero_grad() end
  local steps, examples = 0, 0
  local train_seconds = 0
  local first = 1

  if ckpt and file_exists(ckpt.path) then
    -- resume: everything the run depends on, as it was after epoch ck.epoch
    local ok, ck = pcall(gd.load, ckpt.path)
    if not ok then error(fname .. ": cannot resume from the checkpoint: " .. tostring(ck), 2) end
    if type(ck) ~= "table" or type(ck.epoch) ~= "number" or type(ck.model) ~= "table" or type(ck.history) ~= "table" then
      error(fmt("%s: '%s' is not a gd.train checkpoint", fname, ckpt.path), 2)
    end
    if ck.epoch > epochs then
      error(fmt("%s: the checkpoint '%s' is at epoch %d, past epochs = %d", fname, ckpt.path, ck.epoch, epochs), 2)
    end
    -- all or nothing: the loader (which checks everything first), then the
    -- model and the optimizer (which does too); a failure puts the loader's
    -- and the model's state back
    local loader_before = source.state_dict and source:state_dict() or nil
    local model_before = {}
    for k, v in pairs(model:state_dict()) do model_before[k] = v:clone() end
    -- (each called by pcall itself, so that its message carries no position in this file)
    local restored, why = true, nil
    if ck.loader ~= nil and source.load_state_dict then
      restored, why = pcall(source.load_state_dict, source, ck.loader)
    end
    if restored then restored, why = pcall(model.load_state_dict, model, ck.model) end
    if restored and ck.optimizer ~= nil and opt.load_state_dict then
      restored, why = pcall(opt.load_state_dict, opt, ck.optimizer)
    end
    if restored and ck.rng then restored, why = pcall(rng_restore, ck.rng) end
    if not restored then
      model:load_state_dict(model_before)
      if loader_before then source:load_state_dict(loader_before) end
      error(fmt("%s: cannot resume from '%s': %s", fname, ckpt.path, tostring(why)), 2)
    end
    for _, k in ipairs(HISTORY_LISTS) do history[k] = ck.history[k] or {} end
    steps, examples, train_seconds = ck.history.steps or 0, ck.history.examples or 0, ck.history.seconds or 0
    history.resumed_from = ck.epoch
    first = ck.epoch + 1
  end

  local function save_checkpoint(epoch)
    local h = {steps = steps, examples = examples, seconds = train_seconds}
    for _, k in ipairs(HISTORY_LISTS) do h[k] = history[k] end
    local ok, err = pcall(gd.save, ckpt.path, {epoch = epoch, model = model:state_dict(),
                        optimizer = opt.state_dict and opt:state_dict() or nil,
                        loader = source.state_dict and source:state_dict() or nil,
                        rng = rng_save(gd.rng_state()), history = h})
    -- (the file on disk is still the previous checkpoint: gd.save is atomic)
    if not ok then error(fname .. ": cannot save the checkpoint: " .. tostring(err), 0) end
  end

  local function evaluate(epoch, b)
    local frac = per_epoch and (epoch - 1) + b / per_epoch or epoch
    model:evaluate()
    local v = average_eval(dist, eval(model, {epoch = frac, step = steps, examples = examples}))
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

  -- one bar for the whole run: epoch e/E, the run's progress, batch b/B
  local bar = show and progress.bar{total = per_epoch and (epochs - first + 1) * per_epoch or nil, enabled = true,
                                    out = out, epochs = epochs, batches = per_epoch} or nil
  local shown = {}   -- the values the bar shows, refilled each step
  local function show_values(l)
    shown.loss = l
    local last = history.eval[#history.eval]
    if type(last) == "number" then shown.eval = last end
  end

  local interrupted = false
  if C.gd_interrupt_catch() ~= 0 then error(fname .. ": " .. ffi.string(C.gd_last_error()), 2) end
  local ok, err = pcall(function()
    model:train()
    local base = 0     -- steps of this call before the current epoch
    local examples0 = examples
    for epoch = first, epochs do
      if bar then bar.epoch, bar.batch = epoch, 0 end
      local sum, count, b = 0, 0, 0
      local epoch_seconds = 0
      local t0 = now()
      for x, y in source:batches(epoch) do
        zero()
        local out_ = model:forward(x)
        local l, g = loss(out_, y)
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
          show_values(sum / count)
          bar.batch = b
          bar:update(base + b, shown, examples - examples0)
        end
        if C.gd_interrupt_pending() ~= 0 then interrupted = true break end
      end
      if interrupted then
        warn_out:write(fmt("%s%s: interrupted (Ctrl-C) in epoch %d after %d batches: returning the history of "
          .. "the %d finished epochs\n", bar and bar.enabled and "\r\27[J" or "", fname, epoch, b, epoch - 1))
        warn_out:flush()
        if bar then bar.shown = false end
        break
      end
      epoch_seconds = epoch_seconds + (now() - t0)
      train_seconds = train_seconds + epoch_seconds
      if dist.size() > 1 then
        -- the epoch's loss over every rank's rows: one allreduce of (sum, count)
        local t = dist.allreduce(gd.tensor({sum, count}, {dtype = "float64"}), "sum", {deterministic = true})
        sum, count = t:get(1), t:get(2)
      end
      history.loss[epoch] = count > 0 and sum / count or 0 / 0
      history.time[epoch] = epoch_seconds
      if per_epoch == nil and b > 0 then
        per_epoch = b
        if bar then bar.total, bar.batches = (epochs - first + 1) * b, b end
      end
      base = base + b
      local v
      if eval and not eval_every then v = evaluate(epoch, b) end
      if not (eval and eval_every) then log_row(epoch, b, history.loss[epoch], v) end
      if ckpt and main and (epoch % ckpt.every == 0 or epoch == epochs) then save_checkpoint(epoch) end
      if live then
        live_plot(history, live)
        if bar and bar.enabled then bar.below = require("gd.plot").term_string(plot_series(history),
          {height = 8, width = 60, yscale = live.yscale}) end
      end
      if bar then
        show_values(history.loss[epoch])
        bar.last = -math.huge     -- draw each epoch's end
        bar:update(base, shown, examples - examples0)
      end
      if print_every and epoch % print_every == 0 then
        local line = fmt("epoch %d/%d  loss %.6g", epoch, epochs, history.loss[epoch])
        local last = history.eval[#history.eval]
        if type(last) == "number" then line = line .. fmt("  eval %.6g", last) end
        line = line .. fmt("  %s", progress.clock_text(epoch_seconds))
        if bar then bar:print(line, say_out) else say_out:write(line, "\n"); say_out:flush() end
      end
    end
  end)
  C.gd_interrupt_release()
  if not ok then error(err, 0) end
  if bar and not interrupted then bar:finish(shown) end
  local done = #history.loss
  history.interrupted = interrupted or nil
  history.epochs_done = done
  history.steps, history.examples = steps, examples
  history.seconds = train_seconds
  history.seconds_per_epoch = done > 0 and train_seconds / done or 0
  return history
end

M.run = run

local TRAIN_DOC = [[
gd.train{model =, loss =, optimizer =, data =, [epochs = 1], [eval = fn], [eval_every = n],
         [progress = auto], [verbose = false], [print_every = n], [log = gd.log.Logger(...)],
         [on_step = fn(step, loss)], [checkpoint = {path =, every = 1}], [plot = "out/live.svg"]} -> history
  (also positionally: gd.train{model, loss, optimizer, data, epochs, ...})
  Trains: per batch (x, y) of data, zero_grad, out = model(x), err, grad =
  loss(out, y), model:backward(grad), optimizer:step().  data is a
  gd.data.loader, a function(epoch) returning a batch iterator, or {X, y}
  (batched by batch_size, default 10).  eval(model, info) runs in evaluation
  mode every eval_every steps (or after each epoch without eval_every) and
  returns a number or a table of numbers; info = {epoch (fractional), step,
  examples}.  One live progress bar for the run (epoch e/E, the run's
  progress, batch b/B, loss, items/s, time left) shows on standard error when
  it is a terminal, or with progress = true (or progress = {out = file});
  progress = false hides it.  verbose = true prints a summary line per epoch
  (print_every = n: every n epochs) on standard output (or progress.out).
  Ctrl-C (SIGINT) stops the run after the step in progress: gd.train says so
  and returns the history of the finished epochs with interrupted = true (a
  second Ctrl-C acts as it did before).
  checkpoint = {path =, every = n} saves (gd.save, atomically) the model, the
  optimizer's and the loader's state_dict, the global generator and the
  history after every n epochs and the last; when path exists, gd.train
  resumes from it: a run killed and started again ends with the same bits as
  one that was never stopped.  plot = "out/live.svg" (or gd.plot.line's
  options with file; .png and .pdf too) rewrites the loss plot after every
  epoch, atomically, and draws it in braille under the bar in a terminal.
  history: loss[e] (mean training loss of epoch e), time[e] (its training
  seconds, evaluations excluded), eval[k] / eval_epoch[k] / eval_step[k] (each
  evaluation's value, fractional epoch and step), epochs (asked), epochs_done,
  steps, examples, seconds, seconds_per_epoch, interrupted (true after a
  Ctrl-C), resumed_from (the checkpoint's epoch).]]
doc(run, "gd.train.run", TRAIN_DOC)
doc(M, "gd.train", TRAIN_DOC)

return setmetatable(M, {__call = function(_, cfg) return run(cfg) end})

-- gd.train, gd.log and gd.progress.
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

--- A plain SGD over a module's arena, so that these specs do not depend on gd.optim.
local function sgd(model, lr)
  local params, grads = model:flat_parameters()
  return {
    step = function() params:add_(grads, -lr) end,
    zero_grad = function() grads:zero_() end,
  }
end

local function regression()
  local X, y = gd.data.synthetic_regression{n = 200, seed = 3}
  return X, y
end

describe("gd.train", function()
  before_each(function() gd.manual_seed(0) end)

  it("fits a linear regression and returns the history", function()
    local X, y = regression()
    local net = nn.Linear(2, 1)
    local h = gd.train{model = net, loss = nn.MSELoss(), optimizer = sgd(net, 0.1),
                       data = gd.data.loader({X, y}, {batch_size = 10, seed = 1}), epochs = 5, progress = false}
    assert.equal(5, #h.loss)
    assert.equal(5, #h.time)
    assert.is_true(h.loss[5] < h.loss[1])
    assert.is_true(h.loss[5] < 1e-3)
    assert.equal(100, h.steps)
    assert.equal(1000, h.examples)
    assert.is_true(math.abs(net.weight:get(1, 1) - 2) < 0.01)
    assert.is_true(math.abs(net.bias:get(1) - 4.2) < 0.01)
    assert.is_true(h.seconds >= 0 and math.abs(h.seconds_per_epoch - h.seconds / 5) < 1e-12)
  end)

  it("evaluates every eval_every steps, in evaluation mode, with the fractional epoch", function()
    local X, y = regression()
    local net = nn.Sequential{nn.Linear(2, 1), nn.Dropout(0.1)}
    local modes = {}
    local h = gd.train{model = net, loss = nn.MSELoss(), optimizer = sgd(net, 0.05),
                       data = gd.data.loader({X, y}, {batch_size = 10, seed = 1}), epochs = 2,
                       eval = function(m, info)
                         modes[#modes + 1] = m.modules[2].training
                         return info.examples
                       end,
                       eval_every = 5, progress = false}
    assert.equal(8, #h.eval)
    assert.same({50, 100, 150, 200, 250, 300, 350, 400}, h.eval)
    assert.same({0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2}, h.eval_epoch)
    assert.same({5, 10, 15, 20, 25, 30, 35, 40}, h.eval_step)
    for _, m in ipairs(modes) do assert.is_false(m) end
    assert.is_true(net.modules[2].training)
  end)

  it("evaluates once per epoch without eval_every", function()
    local X, y = regression()
    local net = nn.Linear(2, 1)
    local h = gd.train{net, nn.MSELoss(), sgd(net, 0.1), {X, y}, 3,
                       eval = function(m) return (nn.MSELoss()(m(X), y)) end, progress = false}
    assert.equal(3, #h.eval)
    assert.same({1, 2, 3}, h.eval_epoch)
    assert.is_true(h.eval[3] < h.eval[1])
  end)

  it("trains with gd.optim when it is there", function()
    local ok, optim = pcall(function() return gd.optim end)
    if not ok or optim == nil then pending("gd.optim is not available") return end
    local X, y = regression()
    local net = nn.Linear(2, 1)
    local h = gd.train{model = net, loss = nn.MSELoss(), optimizer = optim.SGD(net, {lr = 0.1}),
                       data = gd.data.loader({X, y}, {batch_size = 10, seed = 1}), epochs = 5, progress = false}
    assert.is_true(h.loss[5] < 1e-3)
  end)

  it("draws a progress bar when asked, and logs rows", function()
    local X, y = regression()
    local net = nn.Linear(2, 1)
    local bar_path, log_path = tmpname(), tmpname()
    local out = assert(io.open(bar_path, "w"))
    local logger = gd.log.Logger(log_path)
    gd.train{model = net, loss = nn.MSELoss(), optimizer = sgd(net, 0.1), data = {X, y}, batch_size = 20,
             epochs = 2, eval = function() return 1.5 end, progress = {out = out}, log = logger}
    out:close()
    logger:close()
    local text = assert(io.open(bar_path)):read("*a")
    os.remove(bar_path)
    assert.matches("epoch 1/2", text)
    assert.matches("epoch 2/2", text)
    assert.matches("10/10", text)
    assert.matches("items/s", text)
    assert.matches("loss ", text)
    local cols, names = gd.log.read(log_path)
    os.remove(log_path)
    assert.same({"epoch", "step", "examples", "time", "eval", "loss"}, names)
    assert.same({1, 2}, cols.epoch)
    assert.same({10, 20}, cols.step)
    assert.same({1.5, 1.5}, cols.eval)
  end)

  it("stays silent when standard error is not a terminal", function()
    if gd.progress.isatty(2) then pending("standard error is a terminal here") return end
    local bar = gd.progress.bar{total = 3}
    assert.is_false(bar.enabled)
  end)

  it("explains what it needs", function()
    local ok, err = pcall(gd.train, {model = nn.Linear(2, 1)})
    assert.is_false(ok)
    assert.matches("loss is missing", err)
    ok, err = pcall(gd.train, {model = nn.Linear(2, 1), loss = nn.MSELoss(), optimizer = {}, data = {}})
    assert.matches("optimizer must be", err)
    ok, err = pcall(gd.train, {model = nn.Linear(2, 1), loss = nn.MSELoss(), optimizr = 1})
    assert.matches("did you mean 'optimizer'", err)
  end)

  it("keeps its per-step loop compiled by the JIT", function()
    if not jit or not jit.status() then pending("the JIT is off") return end
    local X, y = gd.data.synthetic_regression{n = 400, seed = 1}
    local net = nn.Sequential{nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)}
    local cfg = {model = net, loss = nn.MSELoss(), optimizer = sgd(net, 0.01),
                 data = gd.data.loader({X, y}, {batch_size = 4, seed = 1}), epochs = 3, progress = false}
    gd.train(cfg)                               -- warm up: traces form
    -- "leaving loop" and the like are ordinary; an NYI means code the JIT cannot
    -- compile.  Only the per-step path counts: the batch loop of train.lua and
    -- what it calls; train()'s setup and return run once per call.
    local loop_first, loop_last, indent
    local n = 0
    for line in io.lines(package.searchpath("gd.train", package.path)) do
      n = n + 1
      if not loop_first and line:find("in source:batches(epoch) do", 1, true) then
        loop_first, indent = n, line:match("^(%s*)")
      elseif loop_first and not loop_last and line == indent .. "end" then
        loop_last = n
      end
    end
    assert.is_number(loop_first)
    assert.is_number(loop_last)
    local aborts = {}
    local jutil, vmdef = require "jit.util", require "jit.vmdef"
    local function on_trace(what, tr, func, pc, otr, oex)
      if what == "abort" then
        local msg = vmdef.traceerr[otr] or tostring(otr)
        if type(oex) == "number" and msg:find("%%d") then msg = msg:format(oex) end
        local info = jutil.funcinfo(func, pc)
        local where = (info.source or "?") .. ":" .. tostring(info.currentline)
        local line = info.currentline or 0
        local setup = (info.source or ""):match("gd/train%.lua$") and (line < loop_first or line > loop_last)
        if msg:match("NYI") and not setup then aborts[#aborts + 1] = where .. " " .. msg end
      end
    end
    jit.attach(on_trace, "trace")
    gd.train(cfg)
    jit.attach(on_trace)
    assert.same({}, aborts)
  end)
end)

describe("gd.log.Logger", function()
  it("writes a header and one flushed row per add, like Torch7's optim.Logger", function()
    local path = tmpname()
    local log = gd.log.Logger(path, {names = {"epoch", "train loss", "note"}})
    log:add{epoch = 1, ["train loss"] = 0.5, note = "a,b"}
    log:add{2, 0.25}
    local text = assert(io.open(path)):read("*a")
    assert.equal('epoch,train loss,note\n1,0.5,"a,b"\n2,0.25,\n', text)
    local ok, err = pcall(log.add, log, {epochs = 3})
    assert.is_false(ok)
    assert.matches("unknown column 'epochs'", err)
    log:close()
    local cols = gd.log.read(path)
    os.remove(path)
    assert.same({1, 2}, cols.epoch)
    assert.same({"a,b"}, {cols.note[1]})
  end)
end)

describe("gd.progress", function()
  it("formats the time left and the rate", function()
    local path = tmpname()
    local out = assert(io.open(path, "w"))
    local bar = gd.progress.bar{total = 4, label = "epoch 1/1", enabled = true, out = out, interval = 0}
    bar:update(2, {loss = 0.5}, 64)
    bar:finish()
    out:close()
    local text = assert(io.open(path)):read("*a")
    os.remove(path)
    assert.matches("epoch 1/1  %[##########%-%-%-%-%-%-%-%-%-%-%]  2/4  loss 0.5", text)
    assert.matches("left %d+%.%ds", text)
    assert.matches("\n$", text)
    assert.equal("1:05", gd.progress.clock_text(65))
    assert.equal("4.2s", gd.progress.clock_text(4.21))
    assert.equal("2:00:00", gd.progress.clock_text(7200))
  end)
end)

describe("documentation", function()
  it("covers every public function and class of gd.nn, gd.data, gd.train, gd.log and gd.progress", function()
    local doc = require "gd.doc"
    local missing = {}
    for _, name in ipairs {"nn", "data", "log", "progress"} do
      local m = gd[name]
      assert.truthy(doc.lookup(m), "gd." .. name)
      for k, v in pairs(m) do
        if type(k) == "string" and not k:match("^_") and (type(v) == "function" or type(v) == "table")
          then
          if not doc.lookup(v) then missing[#missing + 1] = "gd." .. name .. "." .. k end
        end
      end
    end
    assert.truthy(doc.lookup(gd.train), "gd.train")
    table.sort(missing)
    assert.same({}, missing)
  end)
end)

-- gd.train for long runs: one live bar, summaries when asked, Ctrl-C that keeps
-- the finished epochs, checkpoints that resume to the same bits, a live plot.
local gd = rawget(_G, "gd") or require "gd"
local ffi = require "ffi"
local P = dofile("spec/support/process.lua")
local xml = dofile("spec/support/plot_xml.lua")
local nn = gd.nn

ffi.cdef [[int gd_spec_raise(int sig) __asm__("raise");]]
local SIGINT = 2

local function problem()
  local X, y = gd.data.synthetic_regression{n = 200, seed = 3}
  local net = nn.Sequential{nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)}
  return net, gd.data.loader({X, y}, {batch_size = 20, seed = 1})
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function count(s, pattern)
  return select(2, s:gsub(pattern, ""))
end

describe("gd.train's progress", function()
  before_each(function() gd.manual_seed(0) end)
  after_each(P.cleanup)

  it("draws one bar for the whole run, not a line per epoch", function()
    local net, loader = problem()
    local path = P.tmpdir() .. "/bar"
    local out = assert(io.open(path, "w"))
    gd.train{model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.05}), data = loader,
             epochs = 5, progress = {out = out}}
    out:close()
    local text = read_file(path)
    -- today's gd.train ends a bar line per epoch: 5 newlines
    assert.equal(1, count(text, "\n"))
    assert.matches("epoch 5/5", text, 1, true)
    assert.matches("batch 10/10", text, 1, true)
    assert.matches("epoch 1/5", text, 1, true)    -- the first draw
  end)

  it("prints a summary line every print_every epochs, with the epoch's loss", function()
    local net, loader = problem()
    local path = P.tmpdir() .. "/bar"
    local out = assert(io.open(path, "w"))
    local h = gd.train{model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.05}), data = loader,
                       epochs = 5, progress = {out = out}, print_every = 2}
    out:close()
    local text = read_file(path)
    assert.equal(3, count(text, "\n"))   -- two summaries and the bar's end
    assert.matches(string.format("epoch 2/5  loss %.6g", h.loss[2]), text, 1, true)
    assert.matches(string.format("epoch 4/5  loss %.6g", h.loss[4]), text, 1, true)
    assert.is_nil(text:find("epoch 3/5  loss", 1, true))
    -- verbose without print_every: every epoch; without a bar, on out alone
    net, loader = problem()
    out = assert(io.open(path, "w"))
    h = gd.train{model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.05}), data = loader,
                 epochs = 3, progress = {out = out}, verbose = true}
    out:close()
    text = read_file(path)
    for e = 1, 3 do assert.matches(string.format("epoch %d/3  loss %.6g", e, h.loss[e]), text, 1, true) end
  end)
end)

describe("gd.train and Ctrl-C", function()
  before_each(function() gd.manual_seed(0) end)
  after_each(P.cleanup)

  it("returns the history of the finished epochs and says it was interrupted", function()
    local net, loader = problem()
    local init = net:state_dict()
    local saved = {}
    for k, v in pairs(init) do saved[k] = v:clone() end
    local ref = gd.train{model = net, loss = nn.MSELoss(), optimizer = gd.optim.Adam(net, {lr = 0.01}),
                         data = loader, epochs = 4, progress = false}
    net:load_state_dict(saved)
    local path = P.tmpdir() .. "/out"
    local out = assert(io.open(path, "w"))
    local h = gd.train{model = net, loss = nn.MSELoss(), optimizer = gd.optim.Adam(net, {lr = 0.01}),
                       data = loader, epochs = 4, progress = {out = out},
                       on_step = function(step) if step == 23 then ffi.C.gd_spec_raise(SIGINT) end end}
    out:close()
    -- today's gd.train dies with the host's "interrupted!" and returns nothing
    assert.is_true(h.interrupted)
    assert.same({ref.loss[1], ref.loss[2]}, h.loss)   -- the same bits as the run that went on
    assert.equal(2, h.epochs_done)
    assert.equal(23, h.steps)                          -- the step in progress finished
    assert.matches("gd.train: interrupted (Ctrl-C) in epoch 3 after 3 batches: returning the history of the 2 "
      .. "finished epochs", read_file(path), 1, true)
    -- the flag is cleared and the handler put back: the next run goes to its end
    local again = gd.train{model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.01}),
                           data = loader, epochs = 2, progress = false}
    assert.is_nil(again.interrupted)
    assert.equal(2, #again.loss)
  end)
end)

-- The child's training script: Dropout draws from the global generator, Adam
-- keeps state, and the loader's seed is given on the command line, so that a
-- resume that forgets the generator, the optimizer or the loader's state ends
-- with other bits.
local SCRIPT = [[
local gd = gd or require "gd"
local ffi = require "ffi"
ffi.cdef "int getpid(void); int kill(int pid, int sig);"
local mode, dir, loader_seed = arg[1], arg[2], tonumber(arg[3])
gd.manual_seed(5)
local X, y = gd.data.synthetic_regression{n = 120, seed = 3}
local net = gd.nn.Sequential{gd.nn.Linear(2, 16), gd.nn.Tanh(), gd.nn.Dropout(0.2), gd.nn.Linear(16, 1)}
local opt = gd.optim.Adam(net, {lr = 0.01})
local loader = gd.data.loader({X, y}, {batch_size = 16, seed = loader_seed})
local steps = 0
local h = gd.train{model = net, loss = gd.nn.MSELoss(), optimizer = opt, data = loader, epochs = 6,
  progress = false, checkpoint = mode ~= "plain" and {path = dir .. "/run.ckpt", every = 1} or nil,
  on_step = function(step)
    steps = steps + 1
    -- killed in epoch 4, after the checkpoint of epoch 3
    if mode == "kill" and step == 3 * loader.num_batches + 2 then ffi.C.kill(ffi.C.getpid(), 9) end
  end}
gd.save(dir .. "/" .. mode .. ".state", net:state_dict())
gd.save(dir .. "/" .. mode .. ".info", {loss = h.loss, steps = steps, resumed = h.resumed_from or 0})
]]

describe("gd.train checkpoints", function()
  after_each(P.cleanup)

  it("resume a run killed with SIGKILL to the same bits as one never stopped", function()
    local dir = P.tmpdir()
    local script = dir .. "/train.lua"
    P.write(script, SCRIPT)
    local plain = P.run({script, "plain", dir, "11"})
    assert.equal(0, plain.status, plain.err)
    local killed = P.run({script, "kill", dir, "11"})
    assert.equal(137, killed.status, killed.err)      -- 128 + SIGKILL
    assert.is_true(P.read(dir .. "/run.ckpt") ~= nil)
    -- started again (with another loader seed: the saved one must win)
    local resumed = P.run({script, "resume", dir, "99"})
    assert.equal(0, resumed.status, resumed.err)
    local a, b = gd.load(dir .. "/plain.info"), gd.load(dir .. "/resume.info")
    assert.equal(3, b.resumed)                        -- it did resume (no fresh start)
    assert.equal(3 * 8, b.steps)                      -- epochs 4..6 only: 8 batches each
    assert.same(a.loss, b.loss)                       -- the history of all six epochs
    -- the parameters, bit for bit (gd.save writes the same value as the same bytes)
    assert.equal(P.read(dir .. "/plain.state"), P.read(dir .. "/resume.state"))
  end)

  it("refuse a checkpoint option they cannot use", function()
    local net, loader = problem()
    local ok, err = pcall(gd.train, {model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.1}),
      data = loader, checkpoint = {path = "x", evry = 2}})
    assert.is_false(ok)
    assert.matches("did you mean 'every'", err, 1, true)
    ok, err = pcall(gd.train, {model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.1}),
      data = loader, checkpoint = {path = "x", every = 0}})
    assert.matches("gd.train: checkpoint.every must be >= 1", err, 1, true)
    local dir = P.tmpdir()
    P.write(dir .. "/junk.ckpt", "not a checkpoint")
    ok, err = pcall(gd.train, {model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.1}),
      data = loader, checkpoint = {path = dir .. "/junk.ckpt"}})
    assert.matches("gd.train: cannot resume from the checkpoint: gd.load: '" .. dir .. "/junk.ckpt' is corrupt",
      err, 1, true)
  end)
end)

describe("gd.train's live plot", function()
  after_each(P.cleanup)

  --- The number of points of the path drawn for series `name`.
  local function points_of(path, name)
    local root = xml.parse(read_file(path))
    local found
    local function walk(n)
      if n.tag == "path" and n.attrs["data-name"] == name then found = n.attrs.d end
      for _, c in ipairs(n.children) do if type(c) == "table" then walk(c) end end
    end
    walk(root)
    if not found then return 0 end
    return count(found, "[%d.-]+,[%d.-]+")
  end

  it("rewrites the loss plot after every epoch and draws it under the bar", function()
    gd.manual_seed(0)
    local net, loader = problem()
    local dir = P.tmpdir()
    local svg = dir .. "/live/loss.svg"
    local seen = {}
    local bar_path = dir .. "/bar"
    local out = assert(io.open(bar_path, "w"))
    gd.train{model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.05}), data = loader,
             epochs = 3, plot = svg, progress = {out = out}, eval = function() return 0.5 end,
             on_step = function(step)
               -- at each epoch's first step: the picture of the epochs before
               if step % 10 == 1 and step > 1 then seen[#seen + 1] = points_of(svg, "train loss") end
             end}
    out:close()
    assert.same({1, 2}, seen)
    assert.equal(3, points_of(svg, "train loss"))
    assert.equal(3, points_of(svg, "eval"))
    assert.equal("loss.svg\n", P.sh("ls -A " .. P.quote(dir .. "/live")))   -- no temporary file left
    -- the braille curve (U+2800..U+28FF: bytes E2 A0..A3 xx) under the bar
    assert.is_truthy(read_file(bar_path):find("\226[\160-\163]"))
  end)
end)

describe("gd.train's live plot, when it cannot be written", function()
  it("stops with an error naming gd.train and the plot", function()
    gd.manual_seed(0)
    local net, loader = problem()
    local ok, err = pcall(gd.train, {model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.05}),
      data = loader, epochs = 2, plot = "/proc/no/live.svg", progress = false})
    assert.is_false(ok)
    assert.matches("gd.train: the live plot: gd.plot.line: cannot create directory '/proc/no'", err, 1, true)
  end)
end)

describe("gd.train resuming from a checkpoint of another model", function()
  after_each(P.cleanup)

  it("refuses it and leaves the model and the loader as they were", function()
    gd.manual_seed(0)
    local net, loader = problem()
    local path = P.tmpdir() .. "/run.ckpt"
    gd.train{model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.05}), data = loader,
             epochs = 1, progress = false, checkpoint = {path = path}}
    -- a wider network: the loader's state fits, the model's does not
    local other = nn.Sequential{nn.Linear(2, 9), nn.Tanh(), nn.Linear(9, 1)}
    local before = {}
    for k, v in pairs(other:state_dict()) do before[k] = v:clone() end
    local fresh = gd.data.loader({gd.zeros(200, 2), gd.zeros(200, 1)}, {batch_size = 20, seed = 4})
    local ok, err = pcall(gd.train, {model = other, loss = nn.MSELoss(), optimizer = gd.optim.SGD(other, {lr = 0.05}),
      data = fresh, epochs = 2, progress = false, checkpoint = {path = path}})
    assert.is_false(ok)
    assert.matches("gd.train: cannot resume from '" .. path .. "': load_state_dict: '", err, 1, true)
    -- whichever parameter comes first; the ones copied before it are put back
    assert.matches("'%d%.%a+' has shape [%dx]+, the parameter [%dx]+$", err)
    for k, v in pairs(other:state_dict()) do assert.is_true(before[k]:equal(v), k) end
    assert.same({0, 0, 4}, {fresh.epoch, fresh.position, fresh.seed})
  end)
end)

describe("gd.train in a script, stopped by kill -INT from outside", function()
  after_each(P.cleanup)

  it("ends the script normally with the finished epochs", function()
    local dir = P.tmpdir()
    P.write(dir .. "/long.lua", [[
local gd = gd or require "gd"
local ffi = require "ffi"
ffi.cdef "int getpid(void);"
local X, y = gd.data.synthetic_regression{n = 100, seed = 3}
local net = gd.nn.Linear(2, 1)
local told = false
local h = gd.train{model = net, loss = gd.nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.01}),
  data = gd.data.loader({X, y}, {batch_size = 10, seed = 1}), epochs = 10000000, progress = false,
  on_step = function(step)
    if step == 35 and not told then
      told = true
      local f = io.open(arg[1] .. "/pid.tmp", "w"); f:write(ffi.C.getpid()); f:close()
      os.rename(arg[1] .. "/pid.tmp", arg[1] .. "/pid")
    end
  end}
print("finished " .. #h.loss .. " epochs, interrupted: " .. tostring(h.interrupted))
]])
    local q = P.quote
    local out = P.sh(("cd %s && (timeout -s KILL 60 %s %s %s > %s/out 2> %s/err & " ..
      "n=0; while [ ! -f %s/pid ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; " ..
      "kill -INT $(cat %s/pid); wait $!; echo status $?)"):format(q(P.root), q(P.gdlua), q(dir .. "/long.lua"),
      q(dir), q(dir), q(dir), q(dir), q(dir)))
    local stdout, stderr = P.read(dir .. "/out"), P.read(dir .. "/err")
    -- today: "gdlua: interrupted!" and status 1, the history lost
    assert.matches("status 0", out, 1, true)
    local epochs = tonumber(stdout:match("^finished (%d+) epochs, interrupted: true"))
    assert.is_number(epochs, stdout .. stderr)
    assert.is_true(epochs >= 3)
    assert.matches("gd.train: interrupted (Ctrl-C) in epoch " .. (epochs + 1), stderr, 1, true)
  end)
end)

describe("gd.train saving a checkpoint it cannot write", function()
  after_each(P.cleanup)

  it("stops with an error naming gd.train, the old checkpoint kept", function()
    gd.manual_seed(0)
    local net, loader = problem()
    local dir = P.tmpdir()
    local path = dir .. "/run.ckpt"
    local calls = 0
    -- eval values go into the checkpoint's history: a function cannot be saved
    local ok, err = pcall(gd.train, {model = net, loss = nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.05}),
      data = loader, epochs = 3, progress = false, checkpoint = {path = path},
      eval = function()
        calls = calls + 1
        return calls == 1 and {acc = 0.5} or {acc = 0.5, bad = print}
      end})
    assert.is_false(ok)
    assert.matches("gd.train: cannot save the checkpoint: gd.save: cannot save a function", err, 1, true)
    assert.equal(1, gd.load(path).epoch)      -- the checkpoint of epoch 1, whole
  end)
end)

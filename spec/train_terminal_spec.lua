-- gd.train in a real terminal (tmux): what the user sees.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
local Tmux = dofile(here .. "/support/tmux.lua")
local P = dofile(here .. "/support/process.lua")

local SCRIPT = [[
local gd = gd or require "gd"
local X, y = gd.data.synthetic_regression{n = 200, seed = 3}
local net = gd.nn.Sequential{gd.nn.Linear(2, 8), gd.nn.Tanh(), gd.nn.Linear(8, 1)}
local h = gd.train{model = net, loss = gd.nn.MSELoss(), optimizer = gd.optim.SGD(net, {lr = 0.02}),
  data = gd.data.loader({X, y}, {batch_size = 20, seed = 1}), epochs = tonumber(arg[1]),
  plot = arg[2] .. "/live.svg"}
print(string.format("done: %d epochs%s", #h.loss, h.interrupted and ", interrupted" or ""))
]]

describe("gd.train in a terminal", function()
  after_each(P.cleanup)

  local function start(epochs)
    local dir = P.tmpdir()
    P.write(dir .. "/train.lua", SCRIPT)
    return Tmux.start({"gdlua", dir .. "/train.lua", tostring(epochs), dir}, {width = 100, height = 40}), dir
  end

  it("shows one bar for the run with the loss curve under it", function()
    if not Tmux.available() then pending("tmux is not installed") return end
    local term = start(12)
    local ok, err = pcall(function()
      assert.equal(0, term:wait_exit(30))
      local screen = term:screen()
      -- one bar line, at its end (today: a line per epoch, 12 of them)
      local bars = 0
      for l in screen:gmatch("[^\n]+") do if l:find("epoch %d+/12") then bars = bars + 1 end end
      assert.equal(1, bars, screen)
      assert.matches("epoch 12/12  %[####################%]  batch 10/10", screen)
      -- the braille curve right under it, with its legend, then the script's line
      local after = screen:match("batch 10/10[^\n]*\n(.*)$")
      assert.is_truthy(after:find("\226[\160-\163]"), screen)
      assert.is_truthy(after:find("train loss", 1, true), screen)
      assert.matches("done: 12 epochs\n", after)
    end)
    term:close()
    assert(ok, err)
  end)

  it("stops at Ctrl-C with the finished epochs, and the script goes on", function()
    if not Tmux.available() then pending("tmux is not installed") return end
    local term = start(100000)
    local ok, err = pcall(function()
      term:wait_for("epoch %d+/100000", {timeout = 30, pattern = true})
      term:keys("C-c")
      assert.equal(0, term:wait_exit(30))
      local screen = term:screen()
      local epoch, finished = screen:match("gd.train: interrupted %(Ctrl%-C%) in epoch (%d+) after %d+ batches: "
        .. "returning the history of the (%d+) finished epochs")
      assert.is_truthy(epoch, screen)
      assert.equal(tonumber(epoch) - 1, tonumber(finished))
      assert.matches("done: " .. finished .. " epochs, interrupted", screen, 1, true)
    end)
    term:close()
    assert(ok, err)
  end)
end)

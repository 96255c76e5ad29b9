-- scripts/airfoil.lua: d2l's train_ch7 replayed on the NASA airfoil data.
local gd = rawget(_G, "gd") or require "gd"
local files = require "spec.support.files"

local PATH = files.shared("data/airfoil_self_noise.dat")

local exists = files.exists

local airfoil = assert(loadfile("scripts/airfoil.lua"))("--as-module")

describe("the airfoil replay (scripts/airfoil.lua)", function()
  it("prepares the data as d2l's get_data_ch7: 1500 standardised rows", function()
    if not exists(PATH) then pending(PATH .. " is absent") return end
    local X, y = airfoil.load(PATH)
    assert.same({1500, 5}, X.shape)
    assert.same({1500, 1}, y.shape)
    -- standardised over all 1503 rows, so the first 1500 are nearly centred
    assert.is_true(math.abs(X:mean()) < 0.02)
  end)

  for _, run in ipairs(airfoil.RUNS) do
    it("lands near d2l's final loss with " .. run.name, function()
      if not exists(PATH) then pending(PATH .. " is absent") return end
      local X, y = airfoil.load(PATH)
      local h = airfoil.replay(X, y, run)
      -- every 100 examples over 2 epochs of 1500: 30 evaluations
      assert.equal(30, #h.eval)
      assert.is_true(math.abs(h.eval_epoch[30] - 2) < 1e-12)
      local final = h.eval[#h.eval]
      -- d2l reports 0.243 to 0.245 for these runs
      assert.is_true(final > 0.240 and final < 0.247, run.name .. ": final loss " .. final)
      assert.is_true(h.eval[1] > final)
    end)
  end

  it("replays the same numbers from the same seed", function()
    if not exists(PATH) then pending(PATH .. " is absent") return end
    local X, y = airfoil.load(PATH)
    local a = airfoil.replay(X, y, airfoil.RUNS[3])
    local b = airfoil.replay(X, y, airfoil.RUNS[3])
    assert.same(a.eval, b.eval)
  end)

  it("runs on synthetic data without a path, and says where the data comes from", function()
    local lines = {}
    local real_print = _G.print
    _G.print = function(...) lines[#lines + 1] = table.concat({...}, "\t") end
    local ok, err = pcall(airfoil.main, nil)
    _G.print = real_print
    assert.is_true(ok, err)
    local text = table.concat(lines, "\n")
    assert.matches("airfoil_self_noise.dat", text)
    assert.matches("synthetic_regression", text)
    assert.matches("loss: %d+%.%d+, %d+%.%d+ sec per epoch", text)
    assert.equal(5, select(2, text:gsub("sec per epoch", "")))
  end)
end)

-- scripts/digits_cnn.lua: the digits CNN and its optimizer comparison, on a tiny budget.
local gd = rawget(_G, "gd") or require "gd"
local files = require "spec.support.files"

local PATH = files.shared("data/digits.csv.gz")
local cnn = assert(loadfile("scripts/digits_cnn.lua"))("--as-module")

describe("the digits CNN (scripts/digits_cnn.lua)", function()
  it("has the 2c2d shape: 3x3 convolutions of 16 then 32 channels, pooling, a linear head", function()
    local net = cnn.model()
    assert.equal(16 * 1 * 9 + 16 + 32 * 16 * 9 + 32 + 128 * 10 + 10, net:num_parameters())
    assert.same({5, 10}, net(gd.randn(5, 64)).shape)
  end)

  it("learns with every optimizer in 3 epochs, and reports mean +- std over seeds", function()
    if not files.exists(PATH) then pending(PATH .. " is absent") return end
    local digits = assert(loadfile("scripts/digits.lua"))("--as-module")
    local train, test = digits.load(PATH)
    local results = cnn.compare(train, test, 3, 2)
    assert.equal(#cnn.OPTIMIZERS, #results)
    for _, r in ipairs(results) do
      -- chance is 10%; a broken backward (wrong conv or pool gradient) stays near it
      assert.is_true(r.acc_mean > 0.6, r.name .. string.format(": %.3f", r.acc_mean))
      assert.is_true(r.loss_mean[3] < r.loss_mean[1], r.name)
      assert.is_true(r.acc_std >= 0 and r.loss_std[1] > 0, r.name .. ": two seeds give different runs")
    end
  end)
end)

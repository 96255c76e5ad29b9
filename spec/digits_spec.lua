-- scripts/digits.lua: an MLP on the 8x8 digits.
local gd = rawget(_G, "gd") or require "gd"
local files = require "spec.support.files"

local PATH = files.shared("data/digits.csv.gz")

local exists = files.exists

local digits = assert(loadfile("scripts/digits.lua"))("--as-module")

describe("the digits classifier (scripts/digits.lua)", function()
  it("splits 1437 / 360 the same way every time, features in [0, 1], classes 1..10", function()
    if not exists(PATH) then pending(PATH .. " is absent") return end
    local train, test = digits.load(PATH)
    assert.same({1437, 64}, train[1].shape)
    assert.same({360, 64}, test[1].shape)
    assert.equal("int64", train[2].dtype)
    assert.equal(1, math.min(train[2]:min(), test[2]:min()))
    assert.equal(10, math.max(train[2]:max(), test[2]:max()))
    assert.is_true(train[1]:max() <= 1 and train[1]:min() >= 0)
    local again = digits.load(PATH)
    assert.is_true(gd.allclose(train[1], again[1], 0, 0))
  end)

  it("reaches at least 96% test accuracy after 30 epochs of RMSProp", function()
    if not exists(PATH) then pending(PATH .. " is absent") return end
    local train, test = digits.load(PATH)
    local net, history, acc = digits.train(train, test, {progress = false})
    assert.equal(30, #history.loss)
    assert.is_true(history.loss[30] < history.loss[1] / 10)
    assert.is_true(acc >= 0.96, string.format("test accuracy %.2f%%", 100 * acc))
    assert.equal("Sequential(Linear(64 -> 128), ReLU, Linear(128 -> 128), ReLU, Linear(128 -> 10)) [parameters: 26122]",
      tostring(net))
  end)
end)

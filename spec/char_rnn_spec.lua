-- scripts/char_rnn.lua: the character-level LSTM and its optimizer
-- comparison, on a tiny budget (a small model, 100 steps, the first 40 kB of
-- Debian's fortunes; pending where the fortunes package is absent).
local gd = rawget(_G, "gd") or require "gd"
local cr = assert(loadfile("scripts/char_rnn.lua"))("--as-module")

local TINY = {hidden = 32, layers = 2, seq = 20, batch = 16, embed = 16}

describe("the char-RNN (scripts/char_rnn.lua)", function()
  it("has DeepOBS's tolstoi shape: 2 LSTM layers of 128, a linear head over the symbols", function()
    local V = 90
    local m = cr.model(V)
    local lstm = 2 * (4 * 128 * 128 + 4 * 128 * 128 + 2 * 4 * 128)
    assert.equal(V * 128 + lstm + 128 * V + V, m.net:num_parameters())
    assert.equal(50, cr.CONFIG.seq)
    assert.equal(50, cr.CONFIG.batch)
  end)

  it("runs Graves' RMSProp in his setting (Graves 2013 sec. 4.2, eq. 38-45)", function()
    -- catches the flavor's values drifting from the paper's (aleph 0.95, beth 0.9, gimel = daleth = 1e-4),
    -- the clipping left out of the Graves run (or put into the others'), or a mean loss (the clip limits
    -- are on the scale of a sequence's summed loss)
    local g = cr.OPTIMIZERS[1]
    assert.equal("RMSProp (graves)", g.name)
    local m = cr.model(20, TINY, g.setting)
    assert.equal(10, m.lstm.gate_grad_clip)
    assert.equal(100, m.output_clip)
    assert.equal("sum", g.setting.reduction)
    local h = g.make(m.net).hyper
    assert.equal(1e-4, h.lr)
    assert.equal(0.95, h.alpha)
    assert.equal(0.9, h.momentum)
    assert.equal(1e-4, h.eps)
    assert.is_true(h.centered and h.eps_inside)
    assert.equal("lr_inside", h.momentum_style)
    for i = 2, #cr.OPTIMIZERS do
      local other = cr.model(20, TINY, cr.OPTIMIZERS[i].setting)
      assert.equal(0, other.lstm.gate_grad_clip)
      assert.is_nil(other.output_clip)
    end
  end)

  it("cuts the text into streams that continue one another (state carried across batches)", function()
    local ids = gd.arange(1, 102, {dtype = "int64"})   -- 1 .. 101
    local S = cr.streams(ids, 4, 5)
    -- L = floor(100 / 4 / 5) * 5 = 25: row b holds ids b*25+1 .. b*25+26
    assert.same({4, 26}, S.shape)
    for b = 1, 3 do assert.equal(S:get(b, 26), S:get(b + 1, 1)) end
    assert.equal(1, S:get(1, 1))
  end)

  it("says how to get the fortunes when the text is missing", function()
    local text, why = cr.read_text("/nonexistent/fortunes")
    assert.is_nil(text)
    assert.matches("apt-get install fortunes", why, 1, true)
  end)

  it("learns with every optimizer on a tiny budget; bits per char and a sample", function()
    local text = cr.read_text(cr.DEFAULT_PATH, 40000)
    if not text then pending(cr.DEFAULT_PATH .. " is absent (apt-get install fortunes)") return end
    local data = cr.prepare(text, 0.1)
    local V = #data.vocab
    gd.manual_seed(0)
    local untrained = cr.bits_per_char(cr.model(V, TINY), data.test)
    -- an untrained model is near the uniform log2(V) bits per character
    assert.is_true(math.abs(untrained - math.log(V) / math.log(2)) < 0.3)
    local results = cr.compare(data, 100, 1, TINY, 60)
    assert.equal(#cr.OPTIMIZERS, #results)
    for _, r in ipairs(results) do
      -- a broken LSTM backward (or state carried wrongly) stays near the start
      assert.is_true(r.bpc_mean < untrained - 0.4, r.name .. string.format(": %.3f bits/char", r.bpc_mean))
      assert.equal(60, #r.sample)
      for i = 1, #r.sample do assert.is_not_nil(data.index[r.sample:sub(i, i)]) end
    end
    -- Graves' setting (lr 1e-4) moves slowest in 100 steps; PyTorch's RMSProp
    -- and Adam at 2e-3 get well under 5 bits per character
    assert.is_true(results[2].bpc_mean < 5 and results[3].bpc_mean < 5)
  end)
end)

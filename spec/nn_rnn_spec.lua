-- gd.nn.RNN, LSTM and GRU (issue 14): outputs, final states and the
-- gradients of the input, the initial states and every parameter against
-- PyTorch 1.13 (spec/golden/nn_rnn.lua, from scripts/golden/nn_rnn.py) in
-- float64 within 1e-10 and float32 within 1e-4; finite differences; dropout
-- between layers; PyTorch's init and state_dict keys; bad input.
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn

local golden, cells = dofile("spec/golden/nn_rnn.lua")

local function t64(flat, shape) return gd.tensor(flat, {dtype = "float64"}):view(shape) end

local function maxdiff(a, b) return (a:to("float64") - b:to("float64")):abs():max() end

local function sorted_keys(t)
  local k = {}
  for name in pairs(t) do k[#k + 1] = name end
  table.sort(k)
  return k
end

--- The golden layer built from its gdlua constructor text, PyTorch's
-- parameters copied in by their PyTorch names.
local function build(g, dtype)
  local ctor = assert(loadstring("local nn = ...; return nn." .. g.cls .. "(" .. g.args ..
    (g.opts ~= "nil" and (", " .. g.opts) or "") .. ")"))
  local m = ctor(nn)
  if dtype == "float64" then m:double() end
  local sd = m:state_dict()
  -- the same names (weight_ih_l0, ..._reverse) and shapes as PyTorch's
  assert.same(sorted_keys(g.params), sorted_keys(sd))
  for name, p in pairs(g.params) do
    assert.same(p.shape, sd[name].shape)
    sd[name]:copy_(t64(p.v, p.shape))
  end
  return m
end

local function replay(g, dtype, tol)
  local m = build(g, dtype)
  m:zero_grad()
  -- h's shape, and c's (another width with proj_size)
  local cshape = g.cstate_shape or g.state_shape
  local function st(v) return v and t64(v, g.state_shape):to(dtype) or nil end
  local function stc(v) return v and t64(v, cshape):to(dtype) or nil end
  local x = t64(g.x, g.x_shape):to(dtype)
  local y, hn, cn
  if g.cls == "LSTM" then y, hn, cn = m:forward(x, st(g.h0), stc(g.c0))
  else y, hn = m:forward(x, st(g.h0)) end
  assert.same(g.y_shape, y.shape)
  assert.same(g.state_shape, hn.shape)
  assert.is_true(maxdiff(y, t64(g.y, g.y_shape)) < tol, g.name .. ": output")
  assert.is_true(maxdiff(hn, t64(g.hn, g.state_shape)) < tol, g.name .. ": h_n")
  if g.cn then
    assert.same(cshape, cn.shape)
    assert.is_true(maxdiff(cn, t64(g.cn, cshape)) < tol, g.name .. ": c_n")
  end
  local gx, gh0, gc0 = m:backward(t64(g.gy, g.y_shape):to(dtype), st(g.ghn), stc(g.gcn))
  assert.is_true(maxdiff(gx, t64(g.gx, g.x_shape)) < tol, g.name .. ": input gradient")
  if g.gh0 then assert.is_true(maxdiff(gh0, t64(g.gh0, g.state_shape)) < tol, g.name .. ": h0 gradient") end
  if g.gc0 then assert.is_true(maxdiff(gc0, t64(g.gc0, cshape)) < tol, g.name .. ": c0 gradient") end
  local sd = m:state_dict()
  for name, p in pairs(g.params) do
    assert.is_true(maxdiff(sd[name].grad, t64(p.g, p.shape)) < tol, g.name .. ": gradient of " .. name)
  end
end

describe("gd.nn.RNN, LSTM and GRU against PyTorch", function()
  -- The cases catch: a gate order other than PyTorch's (i f g o / r z n), GRU's
  -- b_hn outside r's product, the reverse direction run forwards or written
  -- into the wrong columns, the second layer fed the wrong input, batch_first
  -- read as time-major, grad_h/grad_c dropped, h0's gradient not propagated,
  -- the hidden weights' gradient missing the first step's h0 term; with
  -- proj_size: h not projected (or projected by weight_hr transposed), c0/c_n
  -- given h's width, the second layer fed hidden_size instead of 2 * proj_size
  -- columns, weight_hr's gradient missing a step or the gy term.
  for _, g in ipairs(golden) do
    it(g.name .. " (float64, 1e-10)", function() replay(g, "float64", 1e-10) end)
    it(g.name .. " (float32, 1e-4)", function() replay(g, "float32", 1e-4) end)
  end

  it("the autograd path (one recorded node per layer and direction) gives the golden gradients with proj_size",
    function()
    -- catches a recorded node that loses the projection: hn's region sized
    -- hidden_size, weight_hr not an input of the node (no gradient), or the
    -- node's workspace laid out without the projected cell outputs
    for _, g in ipairs(golden) do
      if g.opts:find("proj_size") then
        local m = build(g, "float64"):requires_grad_()
        m:zero_grad()
        local cshape = g.cstate_shape or g.state_shape
        local function leaf(v, shape) return v and t64(v, shape):requires_grad_() or nil end
        local x, h0, c0 = leaf(g.x, g.x_shape), leaf(g.h0, g.state_shape), leaf(g.c0, cshape)
        local y, hn, cn = m(x, h0, c0)
        assert.is_true(maxdiff(y, t64(g.y, g.y_shape)) < 1e-10, g.name .. ": output")
        local total = (y * t64(g.gy, g.y_shape)):sum()
        if g.ghn then total = total + (hn * t64(g.ghn, g.state_shape)):sum() end
        if g.gcn then total = total + (cn * t64(g.gcn, cshape)):sum() end
        total:backward()
        assert.is_true(maxdiff(x.grad, t64(g.gx, g.x_shape)) < 1e-10, g.name .. ": input gradient")
        if g.gh0 then assert.is_true(maxdiff(h0.grad, t64(g.gh0, g.state_shape)) < 1e-10, g.name .. ": h0 gradient") end
        if g.gc0 then assert.is_true(maxdiff(c0.grad, t64(g.gc0, cshape)) < 1e-10, g.name .. ": c0 gradient") end
        local sd = m:state_dict()
        for name, p in pairs(g.params) do
          assert.is_true(maxdiff(sd[name].grad, t64(p.g, p.shape)) < 1e-10, g.name .. ": gradient of " .. name)
        end
        m:requires_grad_(false)
      end
    end
  end)

  it("a second forward with another batch size and sequence length gives fresh results", function()
    -- reused buffers keyed by shape: a stale workspace would show here
    local g = golden[3]
    local m = build(g, "float64")
    m:forward(gd.randn(2, 7, 4, {dtype = "float64"}))
    m:backward(gd.randn(2, 7, 3, {dtype = "float64"}))
    replay(g, "float64", 1e-10)
  end)
end)

describe("gd.nn.RNNCell, LSTMCell and GRUCell against PyTorch", function()
  -- one step: the cells share the layers' kernels, so a cell's own wiring
  -- (the state copies, unbatched views, grad_c, the suffix-free names) is
  -- what these catch
  local function replay_cell(g, dtype, tol)
    local m = build(g, dtype)
    m:zero_grad()
    local function st(v) return v and t64(v, g.state_shape):to(dtype) or nil end
    local x = t64(g.x, g.x_shape):to(dtype)
    local h, c = m:forward(x, st(g.h0), st(g.c0))
    assert.same(g.state_shape, h.shape)
    assert.is_true(maxdiff(h, t64(g.hn, g.state_shape)) < tol, g.name .. ": h'")
    if g.cn then assert.is_true(maxdiff(c, t64(g.cn, g.state_shape)) < tol, g.name .. ": c'") end
    local gx, gh0, gc0 = m:backward(st(g.gh), st(g.gcn))
    assert.is_true(maxdiff(gx, t64(g.gx, g.x_shape)) < tol, g.name .. ": input gradient")
    if g.gh0 then assert.is_true(maxdiff(gh0, t64(g.gh0, g.state_shape)) < tol, g.name .. ": h gradient") end
    if g.gc0 then assert.is_true(maxdiff(gc0, t64(g.gc0, g.state_shape)) < tol, g.name .. ": c gradient") end
    local sd = m:state_dict()
    for name, p in pairs(g.params) do
      assert.is_true(maxdiff(sd[name].grad, t64(p.g, p.shape)) < tol, g.name .. ": gradient of " .. name)
    end
  end
  for _, g in ipairs(cells) do
    it(g.name .. " (float64, 1e-10)", function() replay_cell(g, "float64", 1e-10) end)
    it(g.name .. " (float32, 1e-4)", function() replay_cell(g, "float32", 1e-4) end)
  end

  it("backward matches gradcheck; bad states are named", function()
    gd.manual_seed(12)
    assert.is_true(nn.gradcheck(nn.LSTMCell(3, 4), gd.randn(2, 3)))
    assert.is_true(nn.gradcheck(nn.GRUCell(3, 2), gd.randn(3)))
    local c = nn.LSTMCell(3, 4)
    assert.has_error(function() c:forward(gd.randn(2, 3), gd.zeros(3, 4)) end,
      "LSTMCell: h has shape 3x4, expected 2x4 (batch x hidden_size)")
    assert.has_error(function() c:forward(gd.randn(2, 5)) end,
      "LSTMCell: the input has 5 features but the layer takes 3 (input_size)")
    assert.has_error(function() nn.GRUCell(3, 4):forward(gd.randn(2, 3), nil, gd.zeros(2, 4)) end,
      "GRUCell: takes no cell state (only LSTMCell does)")
  end)
end)

describe("gd.nn recurrent layers by finite differences", function()
  before_each(function() gd.manual_seed(5) end)
  local cases = {
    {"RNN relu bidirectional", function() return nn.RNN(3, 4, {nonlinearity = "relu", bidirectional = true}) end, {4, 2, 3}},
    {"LSTM 2 layers batch_first", function() return nn.LSTM(3, 4, {num_layers = 2, batch_first = true}) end, {2, 5, 3}},
    {"GRU bidirectional 2 layers", function() return nn.GRU(2, 3, {num_layers = 2, bidirectional = true}) end, {3, 2, 2}},
    {"LSTM 3 layers with dropout 0.3 (training)", function() return nn.LSTM(3, 3, {num_layers = 3, dropout = 0.3}) end, {4, 2, 3}},
    {"LSTM proj_size 2, 2 layers, bidirectional, dropout 0.2 (training)", function()
      return nn.LSTM(3, 4, {num_layers = 2, bidirectional = true, proj_size = 2, dropout = 0.2})
    end, {4, 2, 3}},
    -- a clip no gradient reaches: the exact gradient still
    {"LSTM gate_grad_clip 1e6", function() return nn.LSTM(3, 4, {gate_grad_clip = 1e6}) end, {3, 2, 3}},
  }
  for _, c in ipairs(cases) do
    it(c[1] .. ": backward matches gradcheck", function()
      local ok, msg = nn.gradcheck(c[2](), gd.randn(c[3]))
      assert.is_true(ok, msg)
    end)
  end
end)

describe("gd.nn.LSTM gate_grad_clip (Graves' derivative clipping, a gdlua extension)", function()
  -- One step, batch 1, h0 and c0 given: bias_ih's gradient is then the
  -- gradient of the 4H gate pre-activations itself.  Its unclipped value d
  -- comes from central differences on bias_ih (independent of the backward);
  -- with the clip C set at the median of |d| half the entries are clipped, so
  -- the check catches a clip applied to nothing, to everything, at the wrong
  -- place (after the weights' gradients, or to the cell state's gradient c0
  -- gets), or a clipped value that is not the one sent on to x and h0.
  local H, I = 3, 2
  local function setup()
    gd.manual_seed(21)
    local m = nn.LSTM(I, H):double()
    local x = gd.randn(1, 1, I, {dtype = "float64"})
    local h0 = gd.randn(1, 1, H, {dtype = "float64"})
    local c0 = gd.randn(1, 1, H, {dtype = "float64"})
    -- large output gradients: pre-activation gradients of every size
    local gy = gd.randn(1, 1, H, {dtype = "float64"}) * 40
    local gc = gd.randn(1, 1, H, {dtype = "float64"}) * 40
    return m, x, h0, c0, gy, gc
  end
  local function loss(m, x, h0, c0, gy, gc)
    local y, _, c = m:forward(x, h0, c0)
    return (y * gy):sum() + (c * gc):sum()
  end

  it("clips each gate's pre-activation gradient to [-C, C] and leaves the smaller ones exact", function()
    local m, x, h0, c0, gy, gc = setup()
    local b = m.bias_ih_l0
    local d, eps = {}, 1e-6
    for k = 1, 4 * H do
      local v = b:get(k)
      b:set(k, v + eps); local lp = loss(m, x, h0, c0, gy, gc)
      b:set(k, v - eps); local lm = loss(m, x, h0, c0, gy, gc)
      b:set(k, v)
      d[k] = (lp - lm) / (2 * eps)
    end
    local mags = {}
    for k = 1, #d do mags[k] = math.abs(d[k]) end
    table.sort(mags)
    local C = (mags[6] + mags[7]) / 2
    local unclipped = m:clone()
    m.gate_grad_clip = C
    local n_clipped = 0
    m:zero_grad()
    m:forward(x, h0, c0)
    local gx, gh0, gc0 = m:backward(gy, nil, gc)
    unclipped:zero_grad()
    unclipped:forward(x, h0, c0)
    local _, _, gc0_exact = unclipped:backward(gy, nil, gc)
    local clipped = {}
    for k = 1, 4 * H do
      local want = d[k]
      if math.abs(d[k]) > C then want = d[k] > 0 and C or -C; n_clipped = n_clipped + 1 end
      clipped[k] = want
      assert.is_true(math.abs(m.bias_ih_l0.grad:get(k) - want) < 1e-6 * math.max(1, math.abs(want)),
        string.format("gate %d: %.9g, want %.9g (unclipped %.9g, C %.6g)", k, m.bias_ih_l0.grad:get(k), want, d[k], C))
      assert.equal(m.bias_ih_l0.grad:get(k), m.bias_hh_l0.grad:get(k))
    end
    assert.equal(6, n_clipped)   -- the clip acted, and only on the large half
    -- the clipped gradient is what flows on: x, h0 and the weights by hand
    local dv = gd.tensor(clipped, {dtype = "float64"})
    local gx_want = dv:view(1, 4 * H):matmul(m.weight_ih_l0):view(1, 1, I)
    local gh_want = dv:view(1, 4 * H):matmul(m.weight_hh_l0):view(1, 1, H)
    assert.is_true(maxdiff(gx, gx_want) < 1e-6)
    assert.is_true(maxdiff(gh0, gh_want) < 1e-6)
    local gw_want = dv:view(4 * H, 1):matmul(x:view(1, I))
    assert.is_true(maxdiff(m.weight_ih_l0.grad, gw_want) < 1e-6)
    -- the cell state's own gradient (c0's) is not clipped
    assert.is_true(maxdiff(gc0, gc0_exact) < 1e-14)
  end)

  it("clips the same way through autograd, and over many steps and layers as m:backward", function()
    -- catches a recorded node that drops the clip (PyTorch's exact gradient)
    gd.manual_seed(22)
    local m = nn.LSTM(3, 4, {num_layers = 2, bidirectional = true, proj_size = 2, gate_grad_clip = 0.05}):double()
    local x = gd.randn(5, 2, 3, {dtype = "float64"})
    local gy = gd.randn(5, 2, 4, {dtype = "float64"}) * 10
    m:zero_grad()
    m:forward(x)
    local gx = m:backward(gy):clone()
    local ref = {}
    for i, p in ipairs(m:parameters()) do ref[i] = p.grad:clone() end
    local exact = m:clone()
    exact.gate_grad_clip = 0
    exact:zero_grad()
    exact:forward(x)
    local gx_exact = exact:backward(gy)
    assert.is_true(maxdiff(gx, gx_exact) > 1e-3)   -- the clip changed the gradient
    m:requires_grad_()
    m:zero_grad()
    local xa = x:clone():requires_grad_()
    local y = m(xa)
    ;(y * gy):sum():backward()
    assert.is_true(maxdiff(xa.grad, gx) < 1e-12)
    for i, p in ipairs(m:parameters()) do assert.is_true(maxdiff(p.grad, ref[i]) < 1e-12, "parameter " .. i) end
    m:requires_grad_(false)
  end)

  it("is LSTM's only, 0 or positive, and shows in the description", function()
    assert.has_error(function() nn.GRU(2, 3, {gate_grad_clip = 1}) end)
    assert.has_error(function() nn.LSTM(2, 3, {gate_grad_clip = -1}) end,
      "gd.nn.LSTM: gate_grad_clip must be 0 (off) or positive, got -1")
    local m = nn.LSTM(2, 3, {gate_grad_clip = 10})
    assert.equal("LSTM(2, 3, gate_grad_clip = 10) [parameters: 84]", tostring(m))
    m(gd.randn(2, 1, 2))
    m.gate_grad_clip = 0 / 0
    assert.has_error(function() m:backward(gd.randn(2, 1, 3)) end,
      "LSTM:backward: gate_grad_clip is NaN")
  end)
end)

describe("gd.nn recurrent layers: construction and dropout", function()
  it("initialises every parameter U(-1/sqrt(hidden), 1/sqrt(hidden)) as PyTorch", function()
    gd.manual_seed(1)
    local m = nn.GRU(30, 16, {num_layers = 2})
    local k = 1 / math.sqrt(16)
    local flat = m:flat_parameters()
    -- a kaiming or 1/sqrt(input) bound would change the range
    assert.is_true(flat:abs():max() <= k)
    assert.is_true(flat:abs():max() > 0.99 * k)
    local sd = flat:to("float64")
    local mean = sd:mean()
    local var = ((sd - mean) ^ 2):mean()
    assert.is_true(math.abs(var - k * k / 3) < 0.05 * k * k / 3)
    assert.same({48, 30}, m.weight_ih_l0.shape)
    assert.same({48, 16}, m.weight_ih_l1.shape)
    assert.same({48, 16}, m.weight_hh_l1.shape)
    assert.same({48}, m.bias_hh_l1.shape)
  end)

  it("dropout acts between layers in training mode only, with gd's generator", function()
    gd.manual_seed(2)
    local m = nn.LSTM(3, 4, {num_layers = 2, dropout = 0.5}):double()
    local x = gd.randn(5, 2, 3, {dtype = "float64"})
    local plain = m:clone()
    plain.dropout = 0
    local y0 = plain:forward(x):clone()
    gd.manual_seed(9)
    local y1 = m:forward(x):clone()
    gd.manual_seed(9)
    local y2 = m:forward(x):clone()
    assert.is_true(maxdiff(y1, y2) == 0)      -- the same seed, the same mask
    assert.is_true(maxdiff(y1, y0) > 1e-3)    -- the mask changed the second layer's input
    m:evaluate()
    assert.is_true(maxdiff(m:forward(x), y0) < 1e-14)   -- no dropout in eval mode
    -- one layer: nothing to drop between (PyTorch applies none after the last)
    local one = nn.GRU(3, 4, {dropout = 0.9})
    local z = gd.randn(2, 1, 3)
    assert.is_true(maxdiff(one:forward(z), one:clone():evaluate():forward(z)) == 0)
  end)

  it("returns out, h, c for LSTM and out, h for GRU/RNN; takes {h0, c0} too", function()
    local m = nn.LSTM(2, 3):double()
    local x = gd.randn(4, 1, 2, {dtype = "float64"})
    local h0, c0 = gd.randn(1, 1, 3, {dtype = "float64"}), gd.randn(1, 1, 3, {dtype = "float64"})
    local a = m:forward(x, h0, c0):clone()
    local b, h, c = m:forward(x, {h0, c0})
    assert.is_true(maxdiff(a, b) == 0)
    assert.is_not_nil(c)
    -- the last step's output is h_n
    assert.is_true(maxdiff(b[4], h[1]) == 0)
    local out, hn, extra = nn.GRU(2, 3)(gd.randn(4, 1, 2))
    assert.same({1, 1, 3}, hn.shape)
    assert.is_nil(extra)
    assert.same({4, 1, 3}, out.shape)
  end)

  it("a training loop carrying state keeps its memory bounded (buffers reused, states copied)", function()
    -- a buffer allocated per step (or a saved state kept per step) would grow
    -- the live tensor bytes with the loop
    local m = nn.LSTM(8, 16, {num_layers = 2, batch_first = true})
    local x, g = gd.randn(4, 6, 8), gd.randn(4, 6, 16)
    local h, c
    local function live() collectgarbage(); collectgarbage(); return gd.memory().cpu end
    for _ = 1, 20 do local _, hn, cn = m(x, h, c); m:backward(g); h, c = hn, cn end
    local before = live()
    for _ = 1, 300 do
      m:zero_grad()
      local _, hn, cn = m(x, h, c)
      m:backward(g, hn, cn)
      h, c = hn, cn
    end
    assert.is_true(live() - before < 64 * 1024, string.format("grew %d bytes", live() - before))
  end)

  it("takes non-contiguous inputs and gradients (a transposed view) as their contiguous copies", function()
    gd.manual_seed(3)
    local m = nn.GRU(3, 2, {bidirectional = true}):double()
    local xt = gd.randn(3, 5, {dtype = "float64"}):t()           -- 5 x 3, not contiguous
    local gt = gd.randn(4, 5, {dtype = "float64"}):t()           -- 5 x 4
    local y1 = m:forward(xt):clone()
    local g1 = m:backward(gt):clone()
    local y2 = m:forward(xt:contiguous())
    local g2 = m:backward(gt:contiguous())
    assert.equal(0, maxdiff(y1, y2))
    assert.equal(0, maxdiff(g1, g2))
  end)

  it("saves and loads as a module (gd.save, gd.nn.load) with the same outputs", function()
    gd.manual_seed(4)
    local m = nn.LSTM(3, 4, {num_layers = 2, batch_first = true, bidirectional = true})
    local x = gd.randn(2, 5, 3)
    local y = m(x):clone()
    local path = os.tmpname()
    gd.save(path, m)
    local back = nn.load(path)
    os.remove(path)
    assert.equal(0, maxdiff(back(x), y))
    assert.equal(tostring(m), tostring(back))
    -- proj_size and gate_grad_clip come back too (weight_hr, the clip field)
    local p = nn.LSTM(3, 4, {num_layers = 2, bidirectional = true, proj_size = 2, gate_grad_clip = 5})
    local yp = p(x):clone()
    gd.save(path, p)
    local pb = nn.load(path)
    os.remove(path)
    assert.equal(0, maxdiff(pb(x), yp))
    assert.equal(5, pb.gate_grad_clip)
    assert.equal(tostring(p), tostring(pb))
  end)

  it("LSTM proj_size: PyTorch's parameter names, shapes and order, and its checks", function()
    local m = nn.LSTM(6, 5, {num_layers = 2, bidirectional = true, proj_size = 3})
    -- torch.nn.LSTM(6, 5, num_layers=2, bidirectional=True, proj_size=3)._flat_weights_names
    local want = {}
    for _, sfx in ipairs {"_l0", "_l0_reverse", "_l1", "_l1_reverse"} do
      for _, n in ipairs {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"} do want[#want + 1] = n .. sfx end
    end
    assert.same(want, rawget(m, "__params"))
    assert.same({20, 6}, m.weight_ih_l0.shape)
    assert.same({20, 3}, m.weight_hh_l0.shape)
    assert.same({3, 5}, m.weight_hr_l0_reverse.shape)
    assert.same({20, 6}, m.weight_ih_l1.shape)    -- 2 directions x proj_size 3
    assert.is_true(m:flat_parameters():abs():max() <= 1 / math.sqrt(5))
    local out, h, c = m(gd.randn(4, 2, 6))
    assert.same({4, 2, 6}, out.shape)
    assert.same({4, 2, 3}, h.shape)
    assert.same({4, 2, 5}, c.shape)
    assert.has_error(function() m(gd.randn(4, 2, 6), gd.zeros(4, 2, 5)) end,
      "LSTM: h0 has shape 4x2x5, expected 4x2x3 (num_layers * num_directions x batch x proj_size)")
    assert.has_error(function() m(gd.randn(4, 2, 6), gd.zeros(4, 2, 3), gd.zeros(4, 2, 3)) end,
      "LSTM: c0 has shape 4x2x3, expected 4x2x5 (num_layers * num_directions x batch x hidden_size)")
    -- PyTorch 1.13's RNNBase messages
    assert.has_error(function() nn.LSTM(6, 5, {proj_size = 5}) end,
      "gd.nn.LSTM: proj_size has to be smaller than hidden_size")
    assert.has_error(function() nn.LSTM(6, 5, {proj_size = -1}) end,
      "gd.nn.LSTM: proj_size should be a positive integer or zero to disable projections")
    assert.has_error(function() nn.GRU(6, 5, {proj_size = 2}) end,
      "gd.nn.GRU: proj_size argument is only supported for LSTM, not RNN or GRU")
    assert.has_error(function() nn.LSTM(6, 5, {proj_size = 1.5}) end)
    assert.equal("LSTM(6, 5, num_layers = 2, bidirectional = true, proj_size = 3) [parameters: 940]", tostring(m))
  end)

  it("describes itself with PyTorch's options", function()
    assert.equal("LSTM(10, 20, num_layers = 2, batch_first = true) [parameters: 5920]",
      tostring(nn.LSTM(10, 20, {num_layers = 2, batch_first = true})))
    assert.equal("RNN(3, 4, nonlinearity = 'relu', bias = false) [parameters: 28]",
      tostring(nn.RNN(3, 4, {nonlinearity = "relu", bias = false})))
  end)
end)

describe("gd.nn recurrent layers: bad input", function()
  it("names the layer and what is wrong", function()
    local m = nn.LSTM(4, 3, {num_layers = 2})
    assert.has_error(function() m:forward(gd.randn(5, 2, 6)) end,
      "LSTM: the input has 6 features but the layer takes 4 (input_size)")
    assert.has_error(function() m:forward(gd.randn(5, 2, 4), gd.zeros(1, 2, 3)) end,
      "LSTM: h0 has shape 1x2x3, expected 2x2x3 (num_layers * num_directions x batch x hidden_size)")
    assert.has_error(function() m:forward(gd.randn(5, 2, 4), gd.zeros(2, 2, 3), gd.zeros(2, 3, 3)) end,
      "LSTM: c0 has shape 2x3x3, expected 2x2x3 (num_layers * num_directions x batch x hidden_size)")
    local out, h = m:forward(gd.randn(5, 4))   -- unbatched: seq x features
    assert.same({5, 3}, out.shape)
    assert.same({2, 3}, h.shape)
    assert.has_error(function() m:forward(gd.randn(2, 5, 2, 4)) end,
      "LSTM: the input must be 3-D (seq x batch x features) or 2-D (seq x features, unbatched), got shape 2x5x2x4")
    assert.has_error(function() m:forward("x") end, "LSTM: the input must be a tensor, got string")
    assert.has_error(function() m:forward(gd.randn(5, 2, 4, {dtype = "float64"})) end,
      "LSTM: the weight_ih is float32 but the input is float64")
    assert.has_error(function() nn.GRU(4, 3):forward(gd.randn(5, 2, 4), nil, gd.zeros(1, 2, 3)) end,
      "GRU: takes no cell state (only LSTM does)")
    assert.has_error(function() nn.GRU(4, 3):backward(gd.randn(5, 2, 3)) end, "GRU:backward: called before forward")
    local g = nn.GRU(4, 3, {batch_first = true})
    g:forward(gd.randn(2, 5, 4))
    assert.has_error(function() g:backward(gd.randn(5, 2, 3)) end,
      "GRU:backward: the output gradient has shape 5x2x3, expected 2x5x3")
    assert.has_error(function() nn.RNN(4, 3, {nonlinearity = "sigmoid"}) end,
      "gd.nn.RNN: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'")
    assert.has_error(function() nn.LSTM(4, 0) end)
    assert.has_error(function() nn.LSTM(4, 3, {dropout = 2}) end, "gd.nn.LSTM: dropout = 2 is not a probability in [0, 1]")
    assert.has_error(function() nn.LSTM(4, 3, {num_layer = 2}) end)
  end)

  it("points its errors at the caller's line", function()
    -- a wrong level points into rnn.lua or at nothing
    local m = nn.LSTM(2, 3)
    local cases = {
      function() m:forward(gd.randn(4, 1, 2), gd.zeros(2, 1, 3)) end,
      function() m(gd.randn(4, 1, 5)) end,
      function() nn.LSTM(2, 3, {dropout = 3}) end,
      function() m:forward(gd.randn(4, 1, 2)); m:backward(gd.randn(4, 1, 3), gd.zeros(3, 1, 3)) end,
      function() nn.GRUCell(2, 3)(gd.randn(4, 2), gd.zeros(2, 3)) end,
      function() nn.ConvTranspose2d(2, 3, 3, {stride = 2, output_padding = 2}) end,
    }
    for i, f in ipairs(cases) do
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.matches("nn_rnn_spec%.lua:%d+: ", tostring(err), nil, false, "case " .. i)
    end
  end)

  it("refuses a CUDA input to a layer whose weights are on the CPU", function()
    -- catches a backend call with operands on two devices (host pointers handed to a kernel)
    if not gd.cuda.is_available() then pending("no GPU") return end
    local ok, err = pcall(function() nn.GRU(2, 2):forward(gd.randn(3, 1, 2, {device = "cuda"})) end)
    assert.is_false(ok)
    assert.matches("is on cpu but the input is on cuda", tostring(err), nil, true)
  end)
end)

--- Host<->device transfers, counted by the backends (gd_transfer_count in
-- src/gd.h): no CUDA path copies tensor data to or from the host except
-- t:to()/t:cpu() and the byte copies; reading one value (an element, a
-- reduction's or a loss's result, an index check's bounds) counts apart.
-- Where no GPU can be used the GPU half is pending.
local gd = require "gd"
local C = require("gd.ffi").C

local available, why = gd.cuda_available()

local counts = gd.cuda.transfers

local function mlp_step(net, opt, loss, x, y)
  opt:zero_grad()
  local out = net:forward(x)
  local err, g = loss(out, y)
  net:backward(g)
  opt:step()
  return err
end

local function model(device)
  gd.manual_seed(7)
  local net = gd.nn.Sequential {gd.nn.Linear(8, 16), gd.nn.ReLU(), gd.nn.Linear(16, 16), gd.nn.Tanh(),
                                gd.nn.Linear(16, 3)}
  if device == "cuda" then net:cuda() end
  local opt = gd.optim.SGD(net, {lr = 0.1, momentum = 0.9, weight_decay = 1e-3})
  local x = gd.randn(32, 8)
  local y = gd.arange(0, 32, 1, {dtype = "int64"}) % 3 + 1
  if device == "cuda" then x, y = x:to("cuda"), y:to("cuda") end
  return net, opt, gd.nn.CrossEntropyLoss(), x, y
end

describe("host<->device transfers", function()
  -- catches: the counter missing from Lua, or returning the two counts swapped
  -- or as cdata (int64 boxes compare unequal to numbers), or no gd.help text
  it("are counted by gd.cuda.transfers(), copies then values, documented in gd.help", function()
    assert.is_function(gd.cuda.transfers)
    local copies, values = gd.cuda.transfers()
    assert.equal("number", type(copies))
    assert.equal("number", type(values))
    assert.equal(tonumber(C.gd_transfer_count(0)), copies)
    assert.equal(tonumber(C.gd_transfer_count(1)), values)
    local text = gd.doc.lookup(gd.cuda.transfers)
    assert.truthy(text and text:find("copies, values", 1, true))
    assert.truthy(gd.doc.lookup(gd.cuda):find("transfers()", 1, true))
  end)

  -- catches: a CPU path that stages through a device (or counts CPU copies)
  it("stay at zero for CPU work, a training step included", function()
    local net, opt, loss, x, y = model("cpu")
    mlp_step(net, opt, loss, x, y)
    local bulk, scalar = counts()
    mlp_step(net, opt, loss, x, y)
    local z = (x * 2):sum(1)
    local _ = z:get(1), x:clone():add_(1):max()
    local bulk2, scalar2 = counts()
    assert.equal(bulk, bulk2)
    assert.equal(scalar, scalar2)
  end)

  describe("with a GPU", function()
    if not available then
      pending("no GPU here: " .. tostring(why))
      return
    end

    -- catches: a counter that misses the explicit copies, or counts twice
    it("count one copy per :to('cuda') and :to('cpu'), one value per element read", function()
      local t = gd.randn(1000)
      local b0, s0 = counts()
      local g = t:to("cuda")
      local b1 = counts()
      assert.equal(b0 + 1, b1)
      local back = g:to("cpu")
      assert.equal(b0 + 2, (counts()))
      assert.is_true(gd.allclose(back, t, 0, 0))
      local _ = g:get(3)
      local b3, s3 = counts()
      assert.equal(b0 + 2, b3)
      assert.equal(s0 + 1, s3)
    end)

    -- Two training steps of build(device)'s model on CUDA: the second copies no
    -- tensor data either way and reads at most 4 single values (the loss, the
    -- targets' bounds), and its loss and parameters match the CPU's within tol.
    local function step_without_transfers(build, tol)
      local net, opt, loss, x, y = build("cuda")
      mlp_step(net, opt, loss, x, y)     -- the first step allocates the buffers and the state
      local bulk, scalar = counts()
      local err = mlp_step(net, opt, loss, x, y)
      gd.cuda.synchronize()
      local bulk2, scalar2 = counts()
      assert.equal(bulk, bulk2)
      assert(scalar2 - scalar <= 4, "scalar readouts: " .. (scalar2 - scalar))
      local cnet, copt, closs, cx, cy = build("cpu")
      mlp_step(cnet, copt, closs, cx, cy)
      local cerr = mlp_step(cnet, copt, closs, cx, cy)
      assert.near(cerr, err, tol * math.max(1, math.abs(cerr)))
      local gp, cp = net:parameters(), cnet:parameters()
      for i = 1, #cp do
        local d = (gp[i]:to("cpu") - cp[i]):abs():max()
        assert(d <= tol, "parameter " .. i .. " differs by " .. d)
      end
    end

    -- catches: a layer or loss that copies to the host and back every step
    -- (what every layer did before the CUDA kernels of cuda/nn.cu)
    it("train an MLP step on CUDA without copying tensor data to or from the host", function()
      step_without_transfers(model, 1e-5)
    end)

    -- a small CNN of the digits model's layers (conv, batch norm, pooling)
    local function cnn(device)
      gd.manual_seed(11)
      local nn = gd.nn
      local net = nn.Sequential {nn.Conv2d(1, 4, 3, {padding = 1}), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, {padding = 1, stride = 2}), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(6, 3)}
      if device == "cuda" then net:cuda() end
      local opt = gd.optim.SGD(net, {lr = 0.1, momentum = 0.9})
      local x = gd.randn(16, 1, 8, 8)
      local y = gd.arange(0, 16, 1, {dtype = "int64"}) % 3 + 1
      if device == "cuda" then x, y = x:to("cuda"), y:to("cuda") end
      return net, opt, nn.CrossEntropyLoss(), x, y
    end

    -- catches: conv, pooling or batch norm going through the host (their
    -- loops used to be CPU-only), or CUDA kernels whose index arithmetic
    -- differs from the CPU loops'
    it("train a CNN step on CUDA without copying tensor data to or from the host", function()
      step_without_transfers(cnn, 1e-4)
    end)

    local function close(a, b, tol)
      local d = (a:to("cpu"):double() - b:to("cpu"):double()):abs():max()
      assert(d <= tol, "max difference " .. d)
    end

    -- catches: a CUDA kernel whose math or layout differs from the CPU loop
    it("run the layer and loss kernels as the CPU does", function()
      gd.manual_seed(3)
      local x = gd.randn(17, 5, {dtype = "float64"})
      local gx = x:to("cuda")
      for _, kind in ipairs {"relu", "tanh", "sigmoid"} do close(gx[kind](gx), x[kind](x), 1e-12) end
      for _, m in ipairs {gd.nn.Softmax(), gd.nn.LogSoftmax()} do
        local y = m:forward(x)
        local gy = m:forward(gx)
        close(gy, y, 1e-12)
      end
      local t = gd.arange(0, 17, 1, {dtype = "int64"}) % 5 + 1
      local ce = gd.nn.CrossEntropyLoss()
      local e1, g1 = ce(x, t)
      local e2, g2 = ce(gx, t:to("cuda"))
      assert.near(e1, e2, 1e-12)
      close(g2, g1, 1e-12)
      local mse = gd.nn.MSELoss()
      local target = gd.randn(17, 5, {dtype = "float64"})
      local m1, h1 = mse(x, target)
      local m2, h2 = mse(gx, target:to("cuda"))
      assert.near(m1, m2, 1e-12)
      close(h2, h1, 1e-12)
      local idx = gd.tensor({4, 0, 16, 4}, {dtype = "int64"})
      close(gx:index_select(1, idx:to("cuda") + 1), x:index_select(1, idx + 1), 0)
      close(gx:sum(1), x:sum(1), 1e-12)
      close(gx:cumsum(1), x:cumsum(1), 1e-12)
      local ia = gd.arange(0, 12, 1, {dtype = "int64"}):view(3, 4)
      close(gd.matmul(ia:to("cuda"), ia:t():to("cuda")), gd.matmul(ia, ia:t()), 0)
    end)
  end)
end)

-- GPU specs: every CUDA result against the CPU's.  Where no GPU can be used
-- they are pending, with the reason; the CUDA backend is still compiled by
-- `make` everywhere nvcc is.
local gd = require "gd"

local available, why = gd.cuda_available()

describe("CUDA", function()
  if not available then
    pending("no GPU here: " .. tostring(why))
    it("asking for a CUDA tensor without a GPU is a clear error", function()
      local ok, e = pcall(gd.zeros, 3, {device = "cuda"})
      assert.is_false(ok)
      assert.matches("gd.zeros: no CUDA GPU is available", e)
      ok, e = pcall(function() return gd.ones(2):to("cuda") end)
      assert.is_false(ok)
      assert.matches("no CUDA GPU is available", e)
    end)
    return
  end

  local function close(a, b, tol)
    local ca, cb = a:to("cpu"):double(), b:to("cpu"):double()
    assert.are.same(a.shape, b.shape)
    local diff = (ca - cb):abs():max()
    local scale = math.max(1, cb:abs():max())
    assert(diff <= tol * scale, string.format("max difference %.3g (tolerance %.3g)", diff, tol * scale))
  end

  it("moves tensors to the GPU and back unchanged", function()
    gd.manual_seed(1)
    for _, dt in ipairs {"float32", "float64", "int64"} do
      local a = dt == "int64" and gd.arange(0, 1000, 1, {dtype = dt}) or gd.randn(1000, {dtype = dt})
      local g = a:to("cuda")
      assert.are.equal("cuda", g.device)
      assert.is_true(gd.allclose(g:to("cpu"), a, 0, 0))
    end
  end)

  it("computes element-wise operations with broadcasting as the CPU does", function()
    gd.manual_seed(2)
    local a, b = gd.randn(64, 33, {dtype = "float64"}), gd.randn(33, {dtype = "float64"})
    local ga, gb = a:cuda(), b:cuda()
    close(ga + gb, a + b, 0)
    close(ga * gb - ga / (gb:abs() + 1), a * b - a / (b:abs() + 1), 1e-15)
    close(ga:exp():log(), a:exp():log(), 1e-14)
    close(ga:t():contiguous(), a:t():contiguous(), 0)
    close(ga:narrow(2, 3, 10):sigmoid(), a:narrow(2, 3, 10):sigmoid(), 1e-15)
    close(ga:clamp(-0.5, 0.5), a:clamp(-0.5, 0.5), 0)
    local x = ga:clone()
    x:addcmul_(ga, gb, 0.5):add_(gb, 2)
    local y = a:clone()
    y:addcmul_(a, b, 0.5):add_(b, 2)
    close(x, y, 1e-15)
  end)

  it("reduces as the CPU does", function()
    gd.manual_seed(3)
    local a = gd.randn(257, 129, {dtype = "float64"})
    local g = a:cuda()
    for _, f in ipairs {"sum", "mean", "max", "min", "norm", "std"} do
      assert(math.abs(g[f](g) - a[f](a)) <= 1e-10 * math.max(1, math.abs(a[f](a))), f)
      close(g[f](g, 2), a[f](a, 2), 1e-12)
      close(g[f](g, 1), a[f](a, 1), 1e-12)
    end
    assert.are.equal(a:argmax(), g:argmax())
    close(g:argmax(2), a:argmax(2), 0)
  end)

  it("computes log1p, expm1, softplus, logsumexp, cumsum, diag and outer as the CPU does", function()
    gd.manual_seed(13)
    for _, dt in ipairs {"float32", "float64"} do
      local tol = dt == "float32" and 1e-5 or 1e-12
      local a = gd.randn(65, 300, {dtype = dt})
      local g = a:cuda()
      close(g:abs():log1p(), a:abs():log1p(), tol)
      close(g:expm1(), a:expm1(), tol)
      close(g:mul(10):softplus(0.5, 3), a:mul(10):softplus(0.5, 3), tol)
      close(g:mul(100):logsumexp(2), a:mul(100):logsumexp(2), tol)
      close(g:logsumexp(1, true), a:logsumexp(1, true), tol)
      assert(math.abs(g:logsumexp() - a:logsumexp()) <= tol * math.abs(a:logsumexp()))
      close(g:cumsum(2), a:cumsum(2), tol)   -- rows longer than one 256-wide tile
      close(g:cumsum(1), a:cumsum(1), tol)   -- a dimension that is not last
      local h = g:t():contiguous():t()       -- in place on a strided view
      h:cumsum_(2)
      close(h, a:cumsum(2), tol)
      close(g:diag(3), a:diag(3), 0)
      close(g:select(1, 1):outer(g:select(1, 2)), a:select(1, 1):outer(a:select(1, 2)), tol)
    end
    local i = gd.arange(0, 1000, 1, {dtype = "int64"}):view(10, 100)
    local gi = i:cuda()
    close(gi:cumsum(2), i:cumsum(2), 0)
    assert.is_true(gd.cuda.memory_allocated() >= 8 * 1000) -- gi's storage at least
    assert.is_true(gd.cuda.device_count() >= 1)
    gd.cuda.synchronize()
  end)

  it("multiplies matrices through cuBLAS", function()
    gd.manual_seed(4)
    local a, b = gd.randn(70, 50, {dtype = "float64"}), gd.randn(50, 30, {dtype = "float64"})
    close(gd.matmul(a:cuda(), b:cuda()), gd.matmul(a, b), 1e-12)
    close(gd.matmul(a:cuda():t():contiguous():t(), b:cuda()), gd.matmul(a, b), 1e-12)
    local af, bf = a:float(), b:float()
    close(gd.matmul(af:cuda(), bf:cuda()), gd.matmul(af, bf), 1e-5)
  end)

  it("draws the same random numbers as the CPU for a seed", function()
    for _, dt in ipairs {"float32", "float64"} do
      gd.manual_seed(7)
      local c = gd.randn(1001, {dtype = dt})
      gd.manual_seed(7)
      local g = gd.randn(1001, {dtype = dt, device = "cuda"})
      close(g, c, dt == "float32" and 1e-6 or 1e-15)
      gd.manual_seed(7)
      local cu = gd.rand(999, {dtype = dt})
      gd.manual_seed(7)
      close(gd.rand(999, {dtype = dt, device = "cuda"}), cu, 0)
    end
  end)

  local files = require "spec.support.files"
  for _, file in ipairs {"torch_optim.lua", "flavors.lua"} do
    local path = files.shared("golden/" .. file)
    local f = io.open(path)
    if f then
      f:close()
      local G = dofile(path)
      for ci, case in ipairs(G.cases) do
        it(string.format("steps %s case %d (%s) on the GPU as on the CPU", file, ci, case.torch or case.optimizer),
          function()
            local function run(device, dtype)
              local x = gd.tensor(G.x0, {dtype = dtype, device = device})
              local hyper = {}
              for k, v in pairs(case.hyper) do hyper[k] = v end
              hyper.flavor = case.flavor
              local opt = gd.optim[case.torch or case.optimizer]({x}, hyper)
              local gh = gd.zeros(#G.x0, {dtype = "float64"})
              for t = 1, G.steps do
                local xc = x:to("cpu"):double()
                for i = 1, #G.x0 do gh:set(i, G.h[i] * (xc:get(i) - G.c[i]) + 0.1 * math.sin(t * i)) end
                x.grad:copy_(gh)
                opt:step()
              end
              return x
            end
            close(run("cuda", "float64"), run("cpu", "float64"), 1e-11)
          end)
      end
    end
  end

  -- every flavor of the project's own golden files (spec/golden), lr changes included
  local golden = require "spec.support.golden"
  for _, system in ipairs(golden.systems) do
    local G = golden.load(system)
    for ci, case in ipairs(G.cases) do
      it(string.format("steps spec/golden/%s.lua case %d (%s %s) on the GPU as on the CPU", system, ci,
        case.optimizer, case.flavor), function()
        close(golden.replay(G, case, "cuda"), golden.replay(G, case, "cpu"), 1e-11)
      end)
    end
  end

  it("steps a large parameter arena in one kernel, as the CPU does", function()
    gd.manual_seed(9)
    local p = gd.randn(2 ^ 20)
    local g = gd.randn(2 ^ 20)
    local pc, pg = p:clone(), p:cuda()
    pc.grad, pg.grad = g:clone(), g:cuda()
    local oc = gd.optim.Adam({pc}, {lr = 0.01})
    local og = gd.optim.Adam({pg}, {lr = 0.01})
    for _ = 1, 5 do oc:step(); og:step() end
    close(pg, pc, 1e-5)
  end)

  -- issue 14's kernels at training sizes (spec/backend_spec.lua checks every
  -- layout at small sizes).  Tolerances relative to max(|CPU|, 1): float64
  -- 1e-12 (the sums differ from the CPU's in order only), float32 1e-5, and
  -- 1e-4 for float32 convolutions (cuBLAS and OpenBLAS block their products
  -- differently).
  local TOL = {float64 = 1e-12, float32 = 1e-5}

  --- forward, then backward of a fixed gradient, of m on x: y, gx and the
  -- parameter gradients, on the CPU
  local function pass(m, x, gy)
    m:zero_grad()
    local y = m:forward(x)
    local gx = m:backward(gy)
    local out = {y:to("cpu"), gx:to("cpu")}
    for _, p in ipairs(m:parameters()) do out[#out + 1] = p.grad:to("cpu") end
    return out
  end

  local function same_pass(make, shape, tol_scale)
    for _, dt in ipairs {"float32", "float64"} do
      gd.manual_seed(21)
      local m = make():to(dt)
      for _, p in ipairs(m:parameters()) do p:copy_(gd.randn(p.shape, {dtype = dt})) end
      local mg = m:clone():to("cuda")
      local x = gd.randn(shape, {dtype = dt})
      local y = m:forward(x)
      local gy = gd.randn(y.shape, {dtype = dt})
      local want, got = pass(m, x, gy), pass(mg, x:cuda(), gy:cuda())
      for i = 1, #want do close(got[i], want[i], TOL[dt] * (dt == "float32" and tol_scale or 1)) end
    end
  end

  -- catches: a block sum that drops warps of a long row, or an affine
  -- gradient summed over the wrong rows (GroupNorm: the group's channel)
  it("runs LayerNorm and GroupNorm forward and backward at training sizes as the CPU does", function()
    same_pass(function() return gd.nn.LayerNorm(1000) end, {64, 1000}, 1)
    same_pass(function() return gd.nn.GroupNorm(4, 32) end, {16, 32, 12, 12}, 1)
  end)

  -- catches: a strided-batched gemm whose sample or group strides are wrong
  -- beyond the first few samples, a weight gradient that keeps one chunk
  it("runs batched convolutions at the digits model's sizes as the CPU does", function()
    same_pass(function() return gd.nn.Conv2d(16, 32, 3, {padding = 1}) end, {128, 16, 8, 8}, 10)
    same_pass(function() return gd.nn.Conv2d(8, 8, 3, {padding = 1, groups = 4}) end, {64, 8, 8, 8}, 10)
    same_pass(function() return gd.nn.ConvTranspose2d(8, 4, 2, {stride = 2}) end, {64, 8, 4, 4}, 10)
  end)

  -- catches: a loss sum that depends on timing (atomics), or a block
  -- reduction that drops a block: the same bits on every run, the CPU's
  -- value up to rounding
  it("sums losses in parallel, the same from run to run, as the CPU does", function()
    gd.manual_seed(22)
    local x, t = gd.randn(1000, 1000, {dtype = "float64"}), gd.randn(1000, 1000, {dtype = "float64"})
    local gx, gt = x:cuda(), t:cuda()
    for _, loss in ipairs {gd.nn.L1Loss(), gd.nn.SmoothL1Loss(), gd.nn.MSELoss()} do
      local want = loss(x, t)
      local a, b = loss(gx, gt), loss(gx, gt)
      assert.are.equal(a, b)
      assert(math.abs(a - want) <= 1e-12 * math.max(1, math.abs(want)), tostring(loss) .. ": " .. a .. " vs " .. want)
    end
  end)

  -- catches: a mean divided by the rows instead of the targets' weights, an
  -- ignored row's gradient, smoothing applied on one device only
  it("computes CrossEntropyLoss's options and NLLLoss over 2000 rows as the CPU does", function()
    gd.manual_seed(23)
    local x = gd.randn(2000, 50, {dtype = "float64"})
    local t = (gd.rand(2000, {dtype = "float64"}) * 50):long() + 1
    local w = gd.rand(50, {dtype = "float64"}) + 0.5
    local prob = gd.rand(2000, 50, {dtype = "float64"})
    for _, case in ipairs {
      {gd.nn.CrossEntropyLoss({weight = w, ignore_index = 7, label_smoothing = 0.1}), t},
      {gd.nn.CrossEntropyLoss({label_smoothing = 0.3}), prob},
      {gd.nn.NLLLoss({weight = w, ignore_index = 3}), t},
    } do
      local loss, target = case[1], case[2]
      local e1, g1 = loss(x, target)
      g1 = g1:clone()
      local e2, g2 = loss(x:cuda(), target:cuda())
      assert(math.abs(e1 - e2) <= 1e-12 * math.max(1, math.abs(e1)), tostring(loss) .. ": " .. e2 .. " vs " .. e1)
      close(g2, g1, 1e-12)
    end
  end)

  -- catches: a renorm kernel that renormalises a repeated row twice in a
  -- race, or rows that were not looked up
  it("renormalises Embedding rows (max_norm) over many repeated indices as the CPU does", function()
    gd.manual_seed(24)
    local m = gd.nn.Embedding(300, 64, {max_norm = 1})
    local mg = m:clone():cuda()
    local idx = (gd.rand(40, 50) * 100):long() + 1
    close(mg(idx:cuda()), m(idx), 1e-5)
    close(mg.weight, m.weight, 1e-5)
  end)
end)

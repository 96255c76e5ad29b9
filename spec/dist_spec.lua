-- gd.dist with one process (no mpirun): the API of size 1.
describe("gd.dist (one process)", function()
  it("is a group of one outside mpirun", function()
    assert.equal(0, gd.dist.rank()); assert.equal(1, gd.dist.size())
    assert.is_true(gd.dist.is_main())
    assert.same({rank = 0, size = 1, localRank = 0, isMain = true}, gd.dist.nodeinfo())
  end)
  it("allreduce over one rank leaves the values (mean does not divide by a wrong N)", function()
    local t = gd.tensor({1, -2, 3})
    gd.dist.allreduce(t, "mean")
    assert.same({1, -2, 3}, t:totable())
  end)
  it("allgather puts the rank dimension first", function()
    local g = gd.dist.allgather(gd.tensor({{1, 2}}))
    assert.same({1, 1, 2}, g.shape); assert.same({{{1, 2}}}, g:totable())
  end)
  it("rejects a bad op with the function and argument named", function()
    assert.has_error(function() gd.dist.allreduce(gd.zeros(2), "median") end)
    local ok, err = pcall(gd.dist.allreduce, gd.zeros(2), "median")
    assert.is_false(ok); assert.matches("gd.dist.allreduce: argument 2 %(op%)", err)
  end)
  it("DataParallel's backward gives net's gradients (size 1), no_sync too", function()
    gd.manual_seed(1)
    local net = gd.nn.Linear(3, 2)
    local dp = gd.dist.DataParallel(net)
    local x = gd.randn(4, 3)
    local y = dp(x)
    net:zero_grad(); dp:backward(gd.ones(4, 2))
    local _, g = net:flat_parameters()
    local g1 = g:clone()
    net:zero_grad(); dp:no_sync(function() dp:backward(gd.ones(4, 2)) end)
    assert.same(g1:totable(), g:totable())
    assert.same({4, 2}, y.shape)
  end)

  it("names what is wrong: a non-contiguous tensor, a root past the ranks, a bad nodeinfo or net", function()
    local ok, err = pcall(gd.dist.allreduce, gd.zeros(3, 2):t())
    assert.is_false(ok); assert.matches("gd.dist.allreduce: argument 1 (t) must be contiguous", err, 1, true)
    ok, err = pcall(gd.dist.broadcast, gd.zeros(2), 1)
    assert.is_false(ok); assert.matches("gd.dist.broadcast: root must be <= 0, got 1", err, 1, true)
    ok, err = pcall(gd.optim.RMSProp, {learnRate = 0.1, nodeinfo = 3})
    assert.is_false(ok); assert.matches("nodeinfo must be gd.dist.nodeinfo()'s table, got number", err, 1, true)
    ok, err = pcall(gd.dist.DataParallel, {})
    assert.is_false(ok); assert.matches("gd.dist.DataParallel: argument 1 (net) must be a gd.nn module", err, 1, true)
    ok, err = pcall(gd.dist.allreduce, gd.zeros(2), "sum", {determinstic = true})
    assert.is_false(ok); assert.matches("determinstic", err, 1, true)
  end)
  it("takes avg as mean, and reports why there is no engine outside mpirun", function()
    local t = gd.tensor({4, 8})
    gd.dist.allreduce(t, "avg")
    assert.same({4, 8}, t:totable())
    local engine, why = gd.dist.engine()
    assert.is_nil(engine); assert.matches("mpirun", why, 1, true)
  end)
  it("the PuzzleLib shape with nodeinfo of size 1 is the plain step", function()
    gd.manual_seed(3)
    local a, b = gd.nn.Linear(3, 1), gd.nn.Linear(3, 1)
    b:load_state_dict(a:state_dict())
    local x, y = gd.randn(5, 3), gd.randn(5, 1)
    local oa = gd.optim.RMSProp{learnRate = 0.01, nodeinfo = gd.dist.nodeinfo()}:setupOn(a)
    local ob = gd.optim.RMSProp{learnRate = 0.01}:setupOn(b)
    for _, pair in ipairs({{a, oa}, {b, ob}}) do
      local net, opt = pair[1], pair[2]
      opt:zero_grad()
      local _, g = gd.nn.MSELoss()(net:forward(x), y)
      net:backward(g); opt:step()
    end
    assert.same(b:flat_parameters():totable(), a:flat_parameters():totable())
  end)

  it("DataParallel under autograd, one rank: loss:backward() gives net's gradients; bucket_cap_mb checked", function()
    gd.manual_seed(4)
    local net = gd.nn.Sequential{gd.nn.Linear(3, 4), gd.nn.Tanh(), gd.nn.Linear(4, 2)}
    local dp = gd.dist.DataParallel(net, {bucket_cap_mb = 1}):requires_grad_()
    local x, y = gd.randn(5, 3), gd.randn(5, 2)
    dp:zero_grad()
    local _, g = gd.nn.MSELoss()(dp:forward(x), y)
    dp:backward(g)
    local _, grads = net:flat_parameters()
    local ref = grads:clone()
    dp:zero_grad()
    gd.nn.MSELoss()(dp(x), y):backward()
    assert.is_true(gd.allclose(grads, ref, 1e-6, 1e-7))
    assert.equal(0, dp:bucket_stats().count)   -- one rank: nothing to reduce, no buckets
    for _, bad in ipairs({0, -1, 0 / 0, math.huge, "25"}) do
      local ok, err = pcall(gd.dist.DataParallel, gd.nn.Linear(2, 2), {bucket_cap_mb = bad})
      assert.is_false(ok); assert.matches("gd.dist.DataParallel: bucket_cap_mb", err, 1, true)
    end
  end)
end)

-- The bucket logic of gd_dist_buckets in C without an engine (a group of
-- one: posting and waiting leave the numbers), so it runs everywhere, make
-- asan included: which buckets, and when the walk posts them.
describe("gd_dist_buckets (C, one process)", function()
  local F = require "gd.ffi"
  local ffi, C = F.ffi, F.C
  local stats = ffi.new("int64_t[3]")
  local function buckets(net, cap_mb, op)
    local ps = net:parameters()
    local arr = ffi.new("gd_tensor*[?]", #ps)
    for i, p in ipairs(ps) do arr[i - 1] = p.c end
    local _, g = net:flat_parameters()
    local box = ffi.new("gd_dist_buckets*[1]")
    if C.gd_dist_buckets_new(box, g.c, arr, #ps, cap_mb, op or C.GD_DIST_SUM, 0) ~= 0 then
      return nil, ffi.string(C.gd_last_error())
    end
    return ffi.gc(box[0], C.gd_dist_buckets_free)
  end
  local function get(b)
    C.gd_dist_buckets_stats(b, stats)
    return {tonumber(stats[0]), tonumber(stats[1]), tonumber(stats[2])}
  end
  local BYTES = 1 / 1048576

  it("cuts the arena from its end at the cap, and posts every bucket during the backward that completes it", function()
    gd.manual_seed(5)
    local l1, l2 = gd.nn.Linear(6, 5), gd.nn.Linear(5, 1)
    local net = gd.nn.Sequential{l1, gd.nn.Tanh(), l2}:requires_grad_()
    -- arena: W1 30, b1 5, W2 5, b2 1 floats; from the end at 16 bytes:
    -- {b2, W2} (24 bytes), {b1} (20), {W1} (120): 3; at 200 bytes: all 164 in 1;
    -- at 21 bytes: {b2, W2}, {b1, W1}: 2 (a bucket closes once it reaches the cap)
    local b = assert(buckets(net, 16 * BYTES))
    assert.same({3, 0, 0}, get(b))
    assert.equal(1, get(assert(buckets(net, 200 * BYTES)))[1])
    assert.equal(2, get(assert(buckets(net, 21 * BYTES)))[1])
    local x, y = gd.randn(4, 6), gd.randn(4, 1)
    net:zero_grad()
    gd.nn.MSELoss()(net(x), y):backward()
    assert.same({3, 3, 1}, get(b))
    -- a backward that writes none of the arena's gradients reduces nothing
    local w = gd.randn(3):requires_grad_()
    ;(w * w):sum():backward()
    assert.same({3, 3, 1}, get(b))
    -- switched off (no_sync): not reduced
    C.gd_dist_buckets_enable(b, 0)
    gd.nn.MSELoss()(net(x), y):backward()
    assert.equal(1, get(b)[3])
    C.gd_dist_buckets_enable(b, 1)
  end)

  it("waits for every use of a shared layer before posting its bucket", function()
    -- the same Linear twice: its W and b get two writes each; a count of one
    -- write per parameter would post the bucket after the first and the
    -- second write would be refused (a gradient written into a bucket on the wire)
    gd.manual_seed(6)
    local l = gd.nn.Linear(3, 3):requires_grad_()
    local b = assert(buckets(l, 4 * BYTES))   -- {b} (12 bytes), {W} (36)
    assert.equal(2, get(b)[1])
    l:zero_grad()
    gd.nn.MSELoss()(l(l(gd.randn(2, 3)):tanh()), gd.randn(2, 3)):backward()
    assert.same({2, 2, 1}, get(b))
  end)

  it("refuses what it cannot reduce, naming it", function()
    local net = gd.nn.Linear(2, 2)
    local _, err = buckets(net, 0)
    assert.matches("bucket_cap_mb must be a number > 0", err, 1, true)
    _, err = buckets(net, 1, C.GD_DIST_MAX)
    assert.matches("buckets reduce by sum or mean only", err, 1, true)
    local other = gd.nn.Linear(2, 2)
    local ps = {net:parameters()[1], other:parameters()[1]}
    local arr = ffi.new("gd_tensor*[2]", ps[1].c, ps[2].c)
    local _, g = net:flat_parameters()
    local box = ffi.new("gd_dist_buckets*[1]")
    assert.is_true(C.gd_dist_buckets_new(box, g.c, arr, 2, 1, C.GD_DIST_SUM, 0) ~= 0)
    assert.matches("parameter 2's .grad is not a contiguous view of the gradient arena",
      ffi.string(C.gd_last_error()), 1, true)
  end)
end)

describe("gd.data.loader{shard = ...}", function()
  -- the rows of every rank's batches, against the unsharded loader's epoch:
  -- catches a rank given the wrong batches, ranks drawing different
  -- permutations (seed), and unequal batch counts (the DDP hang)
  local function rows(loader, epoch)
    local out = {}
    for xb in loader:batches(epoch) do out[#out + 1] = xb:select(2, 1):totable() end
    return out
  end
  it("gives rank r the batches r+1, r+1+N, ... of the same epoch permutation, the same count on every rank", function()
    local X = gd.arange(50, {dtype = "float64"}):view(50, 1)
    local whole = gd.data.loader(X, {batch_size = 4, seed = 17})
    local all = rows(whole, 2)
    assert.equal(13, #all)
    for r = 0, 2 do
      local l = gd.data.loader(X, {batch_size = 4, seed = 17, shard = {rank = r, size = 3}})
      assert.equal(4, l.num_batches) -- floor(13 / 3): batch 13 is left out on every rank
      local mine = rows(l, 2)
      assert.equal(4, #mine)
      for b = 1, 4 do assert.same(all[(b - 1) * 3 + r + 1], mine[b]) end
    end
  end)
  it("refuses a rank outside the size, and fewer batches than ranks", function()
    local X = gd.zeros(10, 2)
    local ok, err = pcall(gd.data.loader, X, {batch_size = 2, shard = {rank = 3, size = 3}})
    assert.is_false(ok); assert.matches("shard.rank must be <= 2, got 3", err, 1, true)
    ok, err = pcall(gd.data.loader, X, {batch_size = 4, shard = {rank = 0, size = 4}})
    assert.is_false(ok); assert.matches("10 rows in batches of 4 make 3 batches, fewer than the 4 ranks", err, 1, true)
  end)
  it("shard = true is gd.dist's rank and size (one process: the whole epoch)", function()
    local X = gd.arange(12):view(12, 1)
    local a = rows(gd.data.loader(X, {batch_size = 5, seed = 2, shard = true}), 1)
    local b = rows(gd.data.loader(X, {batch_size = 5, seed = 2}), 1)
    assert.same(b, a)
  end)
  it("a state saved on 2 ranks loads on 1 rank with the same global batch, and names the batch size it needs", function()
    local X = gd.arange(40):view(40, 1)
    local two = gd.data.loader(X, {batch_size = 4, seed = 1, shard = {rank = 0, size = 2}})
    for _ in two:batches(1) do end
    local sd = two:state_dict()
    assert.equal(2, sd.shard_size)
    local one = gd.data.loader(X, {batch_size = 8, seed = 1})
    one:load_state_dict(sd)
    -- epoch 1 was finished: the next is epoch 2, from its start
    local it, st = one:batches()
    assert.equal(2, one.epoch); assert.equal(0, one.position)
    assert.is_not_nil(it(st))
    local bad = gd.data.loader(X, {batch_size = 5, seed = 1})
    local ok, err = pcall(bad.load_state_dict, bad, sd)
    assert.is_false(ok); assert.matches("need batch_size = 8 for the same global batch (got 5)", err, 1, true)
  end)
end)

-- gd.data.loader as PyTorch users hold it: iterable directly, with a state that
-- goes into checkpoints.
local gd = rawget(_G, "gd") or require "gd"
local data = gd.data

--- The row numbers (y values) of the batches an iterator gives, in order.
local function rows(...)
  local seen = {}
  for a, b in ... do
    local yb = b or a     -- {X, y} loaders give (xb, yb), one-tensor loaders yb
    for _, v in ipairs(yb:totable()) do seen[#seen + 1] = v end
  end
  return seen
end

describe("gd.data.loader iterated directly", function()
  local X, y
  before_each(function()
    X = gd.arange(46):view(23, 2)
    y = gd.arange(23, {dtype = "int64"})
  end)

  it("runs one epoch per for loop, the batches loader() gives", function()
    -- today's loader yields a function as xb here (the loop calls the table's
    -- __call, which returned the iterator): xb:get fails on a function
    local l = data.loader({X, y}, {batch_size = 5, seed = 7})
    local ref = data.loader({X, y}, {batch_size = 5, seed = 7})
    for epoch = 1, 2 do
      local seen, sizes = {}, {}
      for xb, yb in l do
        assert.is_true(gd.is_tensor(xb))
        sizes[#sizes + 1] = yb:numel()
        for i, v in ipairs(yb:totable()) do
          seen[#seen + 1] = v
          assert.equal(2 * v, xb:get(i, 1))   -- rows of X and y stay together
        end
      end
      assert.equal(epoch, l.epoch)
      assert.same({5, 5, 5, 5, 3}, sizes)
      -- the same order as the callable form: catches an epoch counted twice
      -- per loop, or a loop that reshuffles each batch
      assert.same(rows(ref()), seen)
    end
  end)

  it("starts the next epoch after a loop left with break", function()
    local l = data.loader(y, {batch_size = 4, seed = 3})
    for _ in l do break end
    assert.equal(1, l.epoch)
    local second = {}
    for yb in l do for _, v in ipairs(yb:totable()) do second[#second + 1] = v end end
    assert.equal(2, l.epoch)
    assert.equal(23, #second)      -- a whole epoch, not the rest of the first
    assert.same(rows(data.loader(y, {batch_size = 4, seed = 3}):batches(2)), second)
  end)
end)

describe("loader:state_dict / load_state_dict", function()
  local y
  before_each(function() y = gd.arange(23, {dtype = "int64"}) end)

  local function take(it, st, k)
    local out = {}
    for _ = 1, k do
      local yb = it(st)
      for _, v in ipairs(yb:totable()) do out[#out + 1] = v end
    end
    return out
  end

  it("continues an unfinished epoch exactly, through gd.save and gd.load", function()
    -- reference: one loader running on without a break
    local a = data.loader(y, {batch_size = 4, seed = 11})
    rows(a()); rows(a())
    local it, st = a()
    take(it, st, 2)
    local sd = a:state_dict()
    assert.same({epoch = 3, position = 2, seed = 11, n = 23, batch_size = 4, shuffle = true, drop_last = false}, sd)
    local rest_of_3 = {}
    for yb in it, st do for _, v in ipairs(yb:totable()) do rest_of_3[#rest_of_3 + 1] = v end end
    local epoch_4 = rows(a())

    local path = os.tmpname()
    gd.save(path, sd)
    -- a loader made with another seed: the saved seed must win (catches a
    -- state that keeps only epoch and position)
    local b = data.loader(y, {batch_size = 4, seed = 99})
    b:load_state_dict(gd.load(path))
    os.remove(path)
    assert.equal(3, b.epoch)
    -- the rest of epoch 3 (catches a restart of epoch 3 from its first batch, or
    -- a jump to epoch 4), then epoch 4 (catches a lost epoch count)
    assert.same(rest_of_3, rows(b()))
    assert.same(epoch_4, rows(b()))
  end)

  it("starts the next epoch when the saved one was finished", function()
    local a = data.loader(y, {batch_size = 5, seed = 2})
    rows(a())
    local b = data.loader(y, {batch_size = 5, seed = 2})
    b:load_state_dict(a:state_dict())
    local via_loop = {}
    for yb in b do for _, v in ipairs(yb:totable()) do via_loop[#via_loop + 1] = v end end
    assert.equal(2, b.epoch)
    assert.same(rows(a()), via_loop)
  end)

  it("refuses a state of another loader and changes nothing", function()
    local a = data.loader(y, {batch_size = 5, seed = 2})
    rows(a())
    local sd = a:state_dict()
    local b = data.loader(y, {batch_size = 4, seed = 8})
    local ok, err = pcall(b.load_state_dict, b, sd)
    assert.is_false(ok)
    assert.matches("loader:load_state_dict: the state is of a loader with batch_size = 5, this one has 4", err, 1, true)
    assert.equal(0, b.epoch)
    assert.equal(8, b.seed)
    sd.batch_size, sd.position = 4, 9
    ok, err = pcall(b.load_state_dict, b, sd)
    assert.matches("position must be <= 6", err, 1, true)
    ok, err = pcall(b.load_state_dict, b, {epoch = 1, position = 0, seed = 1, sede = 2})
    assert.matches("did you mean 'seed'", err, 1, true)
    ok, err = pcall(b.load_state_dict, b, "x")
    assert.matches("expects the table loader:state_dict%(%) gave, got string", err)
    assert.equal(8, b.seed)
  end)
end)

-- gd.data: read_csv, standardize, split, loader, synthetic_regression.
local gd = rawget(_G, "gd") or require "gd"
local files = require "spec.support.files"
local data = gd.data

local AIRFOIL = files.shared("data/airfoil_self_noise.dat")
local DIGITS = files.shared("data/digits.csv.gz")

local exists = files.exists

local function write_file(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local function close(a, b, tol) return gd.allclose(a, b, tol or 1e-5, tol or 1e-6) end

describe("gd.data.read_csv", function()
  it("reads comma-separated numbers into a float32 tensor", function()
    local path = write_file("1,2,3\n4,5,6\n")
    local t = data.read_csv(path)
    os.remove(path)
    assert.equal("float32", t.dtype)
    assert.same({{1, 2, 3}, {4, 5, 6}}, t:totable())
  end)

  it("takes a separator, a dtype, a header and columns by number or name", function()
    local path = write_file("a\tb\tc\n1\t2.5\t3\n4\t5\t6\n")
    local t, names = data.read_csv(path, {sep = "\t", header = true, dtype = "float64"})
    assert.equal("float64", t.dtype)
    assert.same({"a", "b", "c"}, names)
    assert.same({{1, 2.5, 3}, {4, 5, 6}}, t:totable())
    local picked, pnames = data.read_csv(path, {sep = "tab", header = true, columns = {"c", 1}})
    assert.same({"c", "a"}, pnames)
    assert.same({{3, 1}, {6, 4}}, picked:totable())
    assert.same({{3}, {6}}, data.read_csv(path, {sep = "\t", header = true, columns = -1}):totable())
    local ok, err = pcall(data.read_csv, path, {sep = "\t", header = true, columns = {"d"}})
    assert.is_false(ok)
    assert.matches("unknown column 'd'", err)
    os.remove(path)
  end)

  it("reads gzip-compressed files", function()
    local path = write_file("1,2\n3,4\n")
    local r = os.execute("gzip -f " .. path .. " 2>/dev/null")
    if r ~= 0 and r ~= true then os.remove(path); pending("no gzip command") return end
    local t = data.read_csv(path .. ".gz")
    os.remove(path .. ".gz")
    assert.same({{1, 2}, {3, 4}}, t:totable())
  end)

  it("names the line of a malformed row", function()
    local path = write_file("1,2,3\n4,5,6\n7,x,9\n")
    local ok, err = pcall(data.read_csv, path)
    assert.is_false(ok)
    assert.matches("line 3, field 2: 'x' is not a number", err)
    local f = assert(io.open(path, "wb"))
    f:write("1,2,3\n4,5\n")
    f:close()
    ok, err = pcall(data.read_csv, path)
    assert.matches("line 2 has 2 fields", err)
    os.remove(path)
  end)

  it("suggests the separator of a tab-separated file", function()
    local path = write_file("1\t2\n3\t4\n")
    local ok, err = pcall(data.read_csv, path)
    os.remove(path)
    assert.is_false(ok)
    assert.matches('sep = "\\t"', err, 1, true)
  end)

  it("says which file it cannot read", function()
    local ok, err = pcall(data.read_csv, "/nonexistent/file.csv")
    assert.is_false(ok)
    assert.matches("/nonexistent/file.csv", err, 1, true)
  end)

  it("reads the airfoil data (1503 rows) and the digits (1797 x 65, gzip)", function()
    if not exists(AIRFOIL) or not exists(DIGITS) then pending("../shared/data is absent") return end
    local a = data.read_csv(AIRFOIL, {sep = "\t"})
    assert.same({1503, 6}, a.shape)
    local d = data.read_csv(DIGITS)
    assert.same({1797, 65}, d.shape)
    assert.equal(16, d:narrow(2, 1, 64):max())
    assert.equal(9, d:select(2, 65):max())
  end)
end)

describe("gd.data.standardize", function()
  it("centres each column and divides by its population std", function()
    local t = gd.tensor({{1, 10}, {2, 20}, {3, 30}, {4, 40}})
    local z, mean, std = data.standardize(t)
    assert.is_true(close(mean, gd.tensor({{2.5, 25}})))
    assert.is_true(close(std, gd.tensor({{math.sqrt(1.25), math.sqrt(125)}})))
    assert.is_true(close(z:mean(1), gd.zeros(2)))
    assert.is_true(close(z:std(1, false, 0), gd.ones(2)))
  end)

  it("only centres constant columns and applies given statistics", function()
    local z = data.standardize(gd.tensor({{5, 1}, {5, 3}}))
    assert.same({{0, -1}, {0, 1}}, z:totable())
    local _, m, s = data.standardize(gd.tensor({{0}, {2}}))
    assert.same({{2}}, data.standardize(gd.tensor({{3}}), {mean = m, std = s}):totable())
  end)
end)

describe("gd.data.split", function()
  it("cuts rows into views without shuffle", function()
    local X, y = gd.arange(10):view(5, 2), gd.arange(5)
    local a, b = data.split({X, y}, 3)
    assert.same({3, 2}, a[1].shape)
    assert.same({3, 4}, b[2]:totable())
    assert.is_true(a[1]:is_same_storage(X))
    local first, rest = data.split(y, 0.4)
    assert.same({0, 1}, first:totable())
    assert.same({2, 3, 4}, rest:totable())
  end)

  it("shuffles reproducibly from a seed, keeping rows aligned", function()
    local X, y = gd.arange(20):view(10, 2), gd.arange(10)
    local a1, b1 = data.split({X, y}, 7, {shuffle = true, seed = 3})
    local a2 = data.split({X, y}, 7, {shuffle = true, seed = 3})
    assert.same(a1[2]:totable(), a2[2]:totable())
    assert.equal(3, b1[2]:numel())
    assert.is_true(close(a1[1]:select(2, 1), a1[2] * 2))
  end)

  it("refuses impossible split points", function()
    local ok, err = pcall(data.split, gd.zeros(4), 5)
    assert.is_false(ok)
    assert.matches("cannot split 4 rows at 5", err)
  end)
end)

describe("gd.data.loader", function()
  local X, y
  before_each(function()
    X = gd.arange(46):view(23, 2)
    y = gd.arange(23, {dtype = "int64"})
  end)

  local function epoch_rows(loader, epoch)
    local seen, sizes = {}, {}
    for xb, yb in loader(epoch) do
      sizes[#sizes + 1] = yb:numel()
      for i, v in ipairs(yb:totable()) do
        seen[#seen + 1] = v
        -- rows of X and y stay together
        assert.equal(2 * v, xb:get(i, 1))
      end
    end
    return seen, sizes
  end

  it("covers every row once per epoch, in batches of batch_size and a last shorter one", function()
    local l = data.loader({X, y}, {batch_size = 5, seed = 1})
    assert.equal(5, l.num_batches)
    local seen, sizes = epoch_rows(l)
    assert.same({5, 5, 5, 5, 3}, sizes)
    table.sort(seen)
    for i = 1, 23 do assert.equal(i - 1, seen[i]) end
  end)

  it("drops the last partial batch with drop_last", function()
    local l = data.loader({X, y}, {batch_size = 5, drop_last = true, seed = 1})
    local _, sizes = epoch_rows(l)
    assert.same({5, 5, 5, 5}, sizes)
  end)

  it("keeps order without shuffle", function()
    local seen = epoch_rows(data.loader({X, y}, {batch_size = 10, shuffle = false}))
    for i = 1, 23 do assert.equal(i - 1, seen[i]) end
  end)

  it("gives the same batches for the same seed, and new orders each epoch", function()
    local a = data.loader({X, y}, {batch_size = 4, seed = 42})
    local b = data.loader({X, y}, {batch_size = 4, seed = 42})
    local e1 = epoch_rows(a)
    assert.same(e1, (epoch_rows(b)))
    local e2 = epoch_rows(a)
    assert.are_not.same(e1, e2)
    assert.same(e2, (epoch_rows(b, 2)))
    assert.equal(2, a.epoch)
    assert.are_not.same(e1, (epoch_rows(data.loader({X, y}, {batch_size = 4, seed = 43}))))
  end)

  it("follows gd.manual_seed without a seed", function()
    gd.manual_seed(9)
    local a = epoch_rows(data.loader({X, y}, {batch_size = 4}))
    gd.manual_seed(9)
    assert.same(a, (epoch_rows(data.loader({X, y}, {batch_size = 4}))))
  end)

  it("reuses its batch tensors unless reuse = false", function()
    local l = data.loader(y, {batch_size = 5, seed = 1})
    local it, st = l()
    local b1 = it(st)
    local b2 = it(st)
    assert.is_true(b1 == b2)
    local fresh = data.loader(y, {batch_size = 5, seed = 1, reuse = false})
    it, st = fresh()
    assert.is_false(it(st) == it(st))
  end)

  it("checks its data", function()
    local ok, err = pcall(data.loader, {X, gd.zeros(3)})
    assert.is_false(ok)
    assert.matches("element 2 has 3 rows, element 1 has 23", err)
    ok, err = pcall(data.loader, {X}, {batch_size = 0})
    assert.matches("batch_size must be >= 1", err)
    ok, err = pcall(data.loader, {X}, {batchsize = 3})
    assert.matches("did you mean 'batch_size'", err)
  end)
end)

describe("gd.data.synthetic_regression", function()
  it("is d2l's synthetic_data: y = X w + b + noise", function()
    local X, y = data.synthetic_regression{w = {2, -3.4}, b = 4.2, n = 1000, noise = 0.01, seed = 1}
    assert.same({1000, 2}, X.shape)
    assert.same({1000, 1}, y.shape)
    local fit = gd.matmul(X, gd.tensor({{2}, {-3.4}})) + 4.2
    local resid = (y - fit)
    assert.is_true(resid:abs():max() < 0.06)
    assert.is_true(math.abs(resid:std() - 0.01) < 0.002)
    local X2 = data.synthetic_regression{seed = 1}
    assert.is_true(close(X, X2, 0))
  end)
end)

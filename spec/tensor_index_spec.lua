-- Torch7's table indexing, x[{...}]: per dimension a number selects (the
-- dimension goes), {} takes all of it, {a} is a..a and {a, b} is a..b
-- inclusive, negative bounds count from the end; missing trailing entries take
-- all; numbers for every dimension give the element.  Assignment fills with a
-- number or copies a tensor or table in.  Expected values are by hand, from
-- Torch7's rules (torch7 generic/Tensor.c, __index__ / __newindex__).
local gd = require "gd"
local H = require "spec.support.tensor_helpers"

-- x = 1 2 3 4 / 5 6 7 8 / 9 10 11 12
local function grid() return gd.arange(1, 13):view(3, 4) end

describe("x[{...}] reads", function()
  it("a column with {{}, j}, a view of x", function()
    local x = grid()
    local c = x[{{}, 2}]
    H.same(c, {2, 6, 10})
    c:fill_(0)                         -- a copy instead of a view would leave x alone
    H.same(x[{{}, 2}], {0, 0, 0})
  end)

  it("rows with {{a, b}}, inclusive at both ends, and trailing dimensions taken whole", function()
    H.same(grid()[{{1, 2}}], {{1, 2, 3, 4}, {5, 6, 7, 8}}) -- an exclusive end would give one row
    H.same(grid()[{{2, 3}, {2, 3}}], {{6, 7}, {10, 11}})
  end)

  it("a number then a range: {i, {a, b}}", function()
    H.same(grid()[{2, {1, 3}}], {5, 6, 7})
  end)

  it("negative bounds from the end: {{-2, -1}}", function()
    H.same(grid()[{{-2, -1}}], {{5, 6, 7, 8}, {9, 10, 11, 12}})
    H.same(grid()[{-1, {-3, -2}}], {10, 11})
  end)

  it("{a} keeps the dimension (a..a), where a number removes it", function()
    assert.are.equal("1x4", H.shape(grid()[{{2}}]))
    assert.are.equal("4", H.shape(grid()[{2}]))
    assert.are.equal("3x1", H.shape(grid()[{{}, {3}}]))
    H.same(grid()[{{nil, 2}, 1}], {1, 5})  -- {nil, b}: from the first
  end)

  it("the element itself when every dimension gets a number; {} is all of x", function()
    assert.are.equal(7, grid()[{2, 3}])
    assert.are.equal(12, grid()[{-1, -1}])
    assert.are.equal(3, gd.tensor({1, 2, 3})[{3}])
    assert.are.equal("3x4", H.shape(grid()[{}]))
    local y = gd.arange(1, 25):view(2, 3, 4)
    H.same(y[{{}, 2, {2, 3}}], {{6, 7}, {18, 19}})
    assert.are.equal(24, y[{2, 3, 4}])
  end)

  it("works on strided views", function()
    H.same(grid():t()[{{2, 3}, 1}], {2, 3})
  end)
end)

describe("x[{...}] = v", function()
  it("fills with a number (Torch7's x[{{}, 2}] = 5)", function()
    local x = grid()
    x[{{}, 2}] = 5
    H.same(x, {{1, 5, 3, 4}, {5, 5, 7, 8}, {9, 5, 11, 12}})
    x[{{2, 3}, {3, 4}}] = 0
    H.same(x, {{1, 5, 3, 4}, {5, 5, 0, 0}, {9, 5, 0, 0}})
  end)

  it("copies a tensor or a table in, broadcasting", function()
    local x = grid()
    x[{{}, 2}] = gd.tensor({-1, -2, -3})
    H.same(x[{{}, 2}], {-1, -2, -3})
    x[{1}] = {0, 0, 0, 0}
    H.same(x[{1}], {0, 0, 0, 0})
    x[{{2, 3}, {1, 2}}] = gd.tensor({7, 8}) -- one row broadcast to both
    H.same(x[{{2, 3}, {1, 2}}], {{7, 8}, {7, 8}})
  end)

  it("copies element by element when only the counts agree (as Torch7's copy)", function()
    local x = grid()
    x[{2}] = gd.tensor({{10, 20}, {30, 40}})
    H.same(x[{2}], {10, 20, 30, 40})
  end)

  it("sets one element when every dimension gets a number", function()
    local x = grid()
    x[{3, -1}] = 100
    assert.are.equal(100, x:get(3, 4))
    assert.are.equal(11, x:get(3, 3))
  end)
end)

describe("x[{...}] with a bad index", function()
  it("raises a clear error at the caller's line instead of returning nil", function()
    local x = grid()
    H.raises(function() local _ = x[{4}] end, "index: index 4 out of range for dimension 1 of size 3")
    H.raises(function() local _ = x[{{1, 5}}] end, "index: entry 1: range {1, 5} is out of range for dimension 1 of size 3")
    H.raises(function() local _ = x[{{3, 2}}] end, "index: entry 1: range {3, 2} ends before it starts")
    H.raises(function() local _ = x[{{1, 2, 3}}] end, "index: entry 1 has more than two numbers")
    H.raises(function() local _ = x[{1, 2, 3}] end, "index: 3 entries given for a 2-dimensional tensor")
    H.raises(function() local _ = x[{1.5}] end, "index: index 1.5 for dimension 1 is not an integer")
    H.raises(function() local _ = x[{{}, {1.5, 2}}] end, "index: entry 2: range bound 1.5 is not an integer")
    H.raises(function() local _ = x[{"a"}] end, "index: entry 1 must be a number, {} or a range {first, last}, got 'a'")
    H.raises(function() local _ = x[gd.tensor({1})] end, "index: cannot index a tensor with a tensor")
    H.raises(function() local _ = x[true] end, "index: cannot index a tensor with a boolean")
  end)

  it("leaves x unchanged when an assignment fails", function()
    local x = grid()
    H.raises(function() x[{{}, 2}] = gd.tensor({1, 2}) end, "index: shape 2 cannot be broadcast to 3")
    H.raises(function() x[{{}, 2}] = "five" end, "index: cannot assign 'five' to a tensor slice")
    H.raises(function() x[{9, 1}] = 0 end, "index: index 9 out of range")
    H.same(x, grid():totable())
    local i = gd.zeros(2, 2, {dtype = "int64"})
    H.raises(function() i[{1, 1}] = 1.5 end, "value 1.5 is not an integer, and the tensor is int64")
    H.same(i, {{0, 0}, {0, 0}})
  end)

  it("keeps numbers, fields and methods working", function()
    local x = grid()
    H.same(x[2], {5, 6, 7, 8})
    assert.are.equal(3, gd.tensor({1, 2, 3})[3])
    assert.are.same({3, 4}, x.shape)
    assert.is_nil(x.no_such_field)
  end)
end)

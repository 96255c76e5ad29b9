-- Misuse: freed tensors, methods called with '.', CUDA without a GPU, and a
-- sweep that calls every tensor method with every kind of bad argument.
-- Whatever the input, the result is a value or a Lua error that names the
-- function, raised at the caller's line: never a crash, never an error from
-- inside gd's own code.
local gd = require "gd"
local H = require "spec.support.tensor_helpers"

describe("a freed tensor", function()
  it("becomes empty, and using it is an error, not a crash", function()
    local t = gd.ones(3)
    t:free()
    assert.is_true(t:is_freed())
    assert.are.equal(0, t:numel())
    t:free() -- twice is fine
    H.raises(function() local _ = t:get(1) end, "get: the tensor was released with free()")
    H.raises(function() t:set(1, 1) end, "set: the tensor was released with free()")
    H.raises(function() local _ = t:item() end, "item: the tensor was released with free()")
    H.raises(function() local _ = t:totable() end, "totable: the tensor was released with free()")
    H.raises(function() local _ = t + 1 end, "+: tensor was released with free()")
    H.raises(function() t:add_(1) end, "add_: tensor was released with free()")
    H.raises(function() local _ = t:sum() end, "sum: tensor was released with free()")
    H.raises(function() local _ = t:view(3) end, "view: tensor was released with free()")
    H.raises(function() local _ = t:clone() end, "clone: tensor was released with free()")
    H.raises(function() gd.ones(3):add_(t) end, "add_: operand was released with free()")
    H.raises(function() gd.ones(3):copy_(t) end, "copy_: source was released with free()")
    H.raises(function() local _ = gd.matmul(t, t) end, "gd.matmul: left operand was released with free()")
    assert.are.equal("[tensor released with free()]", tostring(t))
  end)

  it("leaves its views working: they hold the storage", function()
    local t = gd.tensor({1, 2, 3})
    local v = t:narrow(1, 2, 2)
    t:free()
    H.same(v, {2, 3})
    v:add_(1)
    H.same(v, {3, 4})
  end)

  it("releases its memory at once", function()
    -- earlier specs' garbage first: gd.empty's nudge to the collector would
    -- otherwise free some of it between the two counts (seen in the full suite)
    collectgarbage(); collectgarbage()
    local before = gd.memory().cpu
    local t = gd.empty(1024, 1024)
    assert.are.equal(before + 4 * 2 ^ 20, gd.memory().cpu)
    t:free()
    assert.are.equal(before, gd.memory().cpu)
  end)

  it("drops its gradient", function()
    local x = gd.zeros(2)
    x.grad = gd.ones(2)
    x:free()
    assert.is_nil(x.grad)
  end)
end)

describe("methods called with '.' instead of ':'", function()
  it("say so", function()
    local t = gd.ones(2)
    H.raises(function() local _ = t.add(t) end, "add: operand must be a tensor, a number or a table, got nil")
    H.raises(function() local _ = t.sum() end, "sum: expects a tensor as self, got nil (call it as t:sum(...))")
    H.raises(function() t.add_(5) end, "add_: expects a tensor as self, got number")
    H.raises(function() local _ = gd.Tensor.view("x", 2) end, "view: expects a tensor as self, got string")
  end)
end)

describe("CUDA without a GPU", function()
  it("is a clear error from every way of asking for it", function()
    if gd.cuda_available() then return pending("a GPU is present") end
    local ok, why = gd.cuda_available()
    assert.is_false(ok)
    assert.truthy(why:find("no CUDA GPU", 1, true))
    H.raises(function() local _ = gd.zeros(2, {device = "cuda"}) end, "gd.zeros: no CUDA GPU is available")
    H.raises(function() local _ = gd.rand(2, {device = "cuda"}) end, "gd.rand: no CUDA GPU is available")
    H.raises(function() local _ = gd.arange(3, {device = "cuda"}) end, "gd.arange: no CUDA GPU is available")
    H.raises(function() local _ = gd.ones(2):to("cuda") end, "to: no CUDA GPU is available")
    H.raises(function() local _ = gd.ones(2):cuda() end, "cuda: no CUDA GPU is available")
    gd.synchronize() -- a no-op
  end)
end)

describe("every method with bad arguments", function()
  local nan, inf = 0 / 0, math.huge

  local function receivers()
    local freed = gd.ones(2, 3)
    freed:free()
    return {
      matrix = gd.ones(2, 3),
      int64 = gd.ones(2, 3, {dtype = "int64"}),
      scalar = gd.tensor(2),
      empty = gd.zeros(0),
      expanded = gd.ones(3, 1):expand(3, 4),
      strided = gd.ones(4, 4, {dtype = "float64"}):t():narrow(1, 2, 2),
      freed = freed,
    }
  end

  local function arguments()
    local freed = gd.ones(3)
    freed:free()
    return {
      {}, {nil}, {"x"}, {{}}, {{1, 2}}, {{{1}, {2, 3}}}, {print}, {true}, {nan}, {inf}, {-inf}, {-1}, {0},
      {1}, {1.5}, {2 ^ 60}, {-2 ^ 60}, {freed}, {gd.tensor(1)}, {gd.zeros(0)}, {gd.ones(3)},
      {gd.ones(2, 3, {dtype = "int64"})}, {gd.ones(3, 1):expand(3, 4)}, {1, 1}, {1, 2 ^ 53}, {-100, 5},
      {1, "x"}, {gd.ones(3), nan}, {gd.ones(3), "x"}, {1, 1, 1}, {nil, 1}, {{1, 2}, {3}}, {1, nan},
      {gd.ones(2, 3), gd.ones(3, 2)}, {{2, 3}, {3, 1}},
    }
  end

  -- methods whose messages name a related function they delegate to
  local also = {sub = "add", pow = "pow_", flatten = "flatten"}

  it("returns a value or raises '<method>: ...' at the caller's line", function()
    local names = {}
    for name, fn in pairs(gd.Tensor) do
      if type(fn) == "function" then names[#names + 1] = name end
    end
    table.sort(names)
    local bad = {}
    local calls = 0
    local here = debug.getinfo(1, "S").short_src
    for _, name in ipairs(names) do
      for _, args in ipairs(arguments()) do
        for rname, t in pairs(receivers()) do
          local n = select("#", unpack(args))
          local ok, err = pcall(function()
            local r = gd.Tensor[name](t, unpack(args, 1, math.max(n, #args)))
            return r
          end)
          calls = calls + 1
          if not ok then
            err = tostring(err)
            local rest = err:match("^" .. here:gsub("%p", "%%%0") .. ":%d+: (.*)$")
            local fname = rest and rest:match("^([^:]+): ")
            if not fname or not (fname == name or fname == also[name] or fname:match("^gd%.")) then
              bad[#bad + 1] = string.format("%s on %s: %s", name, rname, err)
            end
          end
        end
      end
    end
    assert.is_true(calls > 10000)
    assert.are.same({}, bad)
  end)

  it("including the gd.* functions", function()
    local fns = {"tensor", "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
                 "arange", "linspace", "rand", "randn", "randperm", "manual_seed", "set_rng_state", "matmul", "cat",
                 "stack", "where", "allclose", "save", "load"}
    local bad = {}
    local here = debug.getinfo(1, "S").short_src
    local state = gd.rng_state()
    for _, name in ipairs(fns) do
      for _, args in ipairs(arguments()) do
        local ok, err = pcall(function()
          local r = gd[name](unpack(args, 1, math.max(select("#", unpack(args)), #args)))
          return r
        end)
        if not ok then
          err = tostring(err)
          local rest = err:match("^" .. here:gsub("%p", "%%%0") .. ":%d+: (.*)$")
          if not rest or rest:sub(1, #name + 4) ~= "gd." .. name .. ":" then
            bad[#bad + 1] = string.format("gd.%s: %s", name, err)
          end
        end
      end
    end
    gd.set_rng_state(state)
    assert.are.same({}, bad)
  end)
end)

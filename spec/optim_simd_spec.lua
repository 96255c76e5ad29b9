--- The fused CPU loops that vectorise since issue 15's fix (the coupled L2
-- decay a compile-time switch of each loop, src/kernels/optim.h
-- gd_optim_grad_sw): their SIMD, threaded path gives the bits of the scalar
-- loop, with decay and without, for AdaBelief with amsgrad (plain and
-- rectified), centered RMSProp with Nesterov momentum and SMORMS3.  The golden
-- specs (optim_papers, flavors, optim) check the same updates against their
-- references; this one checks that the vector bodies round as the scalar ones.
local gd = require "gd"
local ffi = require "ffi"
pcall(ffi.cdef, "int memcmp(const void *a, const void *b, size_t n);")

-- bitwise: every row of big (reps x m) holds small's bytes.  (t:equal would
-- fail on the NaNs that 1e30 squared makes in float32, and pass -0 for 0.)
local function same_bits(big, small, reps, m)
  local es = small.dtype == "float32" and 4 or 8
  local b, s = ffi.cast("const char *", big:contiguous().c.data), ffi.cast("const char *", small.c.data)
  for r = 0, reps - 1 do
    if ffi.C.memcmp(b + r * m * es, s, m * es) ~= 0 then return false, r + 1 end
  end
  return true
end

-- name, hyper (with and without coupled weight decay)
local CASES = {
  {"AdaBelief", {amsgrad = true, rectify = false, weight_decouple = false, weight_decay = 0.05}},
  {"AdaBelief", {amsgrad = true, rectify = false}},
  {"AdaBelief", {amsgrad = true, rectify = true, weight_decouple = false, weight_decay = 0.05}},
  {"AdaBelief", {amsgrad = true, rectify = true, weight_decouple = true, weight_decay = 0.05}},
  {"RMSProp", {flavor = "optax", lr = 0.01, centered = true, momentum = 0.9, nesterov = true}},
  {"RMSProp", {lr = 0.01, centered = true, momentum = 0.9, weight_decay = 0.05}},
  {"SMORMS3", {lr = 0.01, weight_decay = 0.05}},
  {"SMORMS3", {lr = 0.01}},
}

describe("vectorised optimizer loops", function()
  -- catches: a vector body that rounds otherwise than the scalar one (a
  -- reciprocal for a division, a contracted multiply-add, a reordered sum), and
  -- a switch taken differently per element or per thread.  The big tensor (the
  -- small one repeated) runs the SIMD body on 2 threads; the small one, 37
  -- elements, mostly the scalar remainder.  Values include 0, -0, a denormal and 1e30.
  for ci, case in ipairs(CASES) do
    local name, hyper = case[1], case[2]
    local label = name
    for k, v in pairs(hyper) do label = label .. " " .. k .. "=" .. tostring(v) end
    it(name .. ": the SIMD, 2-thread loop gives the scalar loop's bits (" .. label .. ")", function()
      local m, reps = 37, 3600                   -- 133,200 elements: above the threading threshold
      local threads = gd.get_num_threads()
      gd.set_num_threads(2)
      for _, dtype in ipairs({"float32", "float64"}) do
        gd.manual_seed(ci)
        local small = gd.randn(m, {dtype = dtype}):mul_(3)
        small:set(1, 0); small:set(2, -0.0); small:set(3, 1e-40); small:set(4, 1e30)
        local big = small:view(1, m):expand(reps, m):contiguous():view(m * reps)
        local os_ = gd.optim[name]({small}, hyper)
        local ob = gd.optim[name]({big}, hyper)
        for t = 1, 6 do
          local g = gd.randn(m, {dtype = dtype})
          if t == 2 then g:set(5, 0); g:set(6, -1e-38) end
          small.grad:copy_(g)
          big.grad:copy_(g:view(1, m):expand(reps, m):contiguous():view(m * reps))
          os_:step()
          ob:step()
        end
        local ok, row = same_bits(big, small, reps, m)
        assert(ok, dtype .. " parameter: row " .. tostring(row) .. " differs")
        local sa, sb = os_:state_dict().state[1], ob:state_dict().state[1]
        local slots = 0
        for k, v in pairs(sa) do
          if gd.is_tensor(v) then
            slots = slots + 1
            local same, r = same_bits(sb[k], v:contiguous(), reps, m)
            assert(same, dtype .. " " .. k .. ": row " .. tostring(r) .. " differs")
          end
        end
        assert.is_true(slots >= 2, "state slots compared: " .. slots)
      end
      gd.set_num_threads(threads)
    end)
  end
end)

describe("the avx2 clones of those loops", function()
  -- catches: the loops falling back to scalar code again (gcc's unswitching or
  -- inlining limits, a run-time switch inside the body): before issue 15's fix
  -- these clones had no 256-bit sqrt or division at all.  Reads the built
  -- library with objdump; pending where either is missing (no target clones).
  local lib = "build/lib/libgd.so"
  local have = io.open(lib, "rb")
  if have then have:close() end
  local probe = have and io.popen("objdump --version 2>/dev/null"):read("*l")
  if not (have and probe) then
    pending("needs objdump and " .. lib)
    return
  end
  local function vector_math(sym)
    local f = io.popen("objdump -d --no-show-raw-insn --disassemble=" .. sym .. " " .. lib .. " 2>/dev/null")
    local text = f:read("*a")
    f:close()
    if not text:find("<" .. sym .. ">:", 1, true) then return nil end
    local n = 0
    for line in text:gmatch("[^\n]+") do
      if line:find("v[sd][qi][rv][tp]*p[sd]%s.*%%ymm") then n = n + 1 end
    end
    return n
  end
  for _, fn in ipairs({"adabelief_%s_10", "adabelief_%s_11", "rmsprop_%s_103", "rmsprop_%s_113", "smorms3_%s"}) do
    for _, s in ipairs({"f", "d"}) do
      local sym = fn:format(s) .. ".avx2"
      it(sym .. " computes with 256-bit vectors", function()
        local n = vector_math(sym)
        if n == nil then return pending(sym .. " not in " .. lib .. " (built without target clones)") end
        assert(n > 0, sym .. ": no vsqrtp/vdivp on ymm registers: the loop is scalar")
      end)
    end
  end
end)

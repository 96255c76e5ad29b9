-- The GPU bundle (make gpu-bundle): build/ carries every library and Lua module
-- the host needs, so that a GPU machine with only the CUDA driver and toolkit
-- runs scripts/gpu-check.  Checked here as such a machine would see it: the
-- bundle copied to a fresh directory, run with an empty environment, and ldd
-- resolving every library inside the copy (libc's and CUDA's aside).
-- Catches: a library found only through the build machine's /usr/lib (an
-- absolute RUNPATH, a missing copy), busted's modules missing from the bundle.
local function sh(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("*a")
  local ok, _, code = f:close()
  return out, ok == true or code == 0
end

local have_patchelf = select(2, sh("command -v patchelf"))

describe("make gpu-bundle", function()
  local tmp
  setup(function()
    if not have_patchelf then return end
    local out, ok = sh("sh scripts/gpu-bundle")
    assert(ok, out)
    tmp = sh("mktemp -d"):gsub("%s+$", "")
    local _, copied = sh(("mkdir -p %s/build && cp -R build/bin build/lib build/share %s/build/ && cp -R lua %s/"):format(tmp, tmp, tmp))
    assert(copied, "copy failed")
  end)
  teardown(function() if tmp then sh("rm -rf " .. tmp) end end)

  local test = have_patchelf and it or pending
  test("stays under 64 MiB", function()
    local out = sh("du -scm build/bin build/lib build/share lua/gd/cdef.lua | tail -n 1")
    assert.is_true(tonumber(out:match("^(%d+)")) < 64, out)
  end)

  test("runs gd and busted from a fresh copy with an empty environment", function()
    local out, ok = sh(("cd / && env -i %s/build/bin/gdlua -e 'assert(gd.ones(2, 3):sum() == 6); " ..
      "require \"busted.runner\"; print(package.searchpath(\"busted.runner\", package.path))'"):format(tmp))
    assert.is_true(ok, out)
    -- the bundle's own busted is found first, not the system's
    assert.matches(tmp .. "/build/bin/../share/lua/5.1/", out, 1, true)
  end)

  -- libgd_dist.so (the MPI engine) is the exception: it uses the machine's own
  -- Open MPI, which runs only with its launcher, plugins and help files
  -- installed, so its libraries are not carried (libgd opens it under mpirun only)
  test("ldd resolves every library inside the copy (but libc's, CUDA's and the MPI engine's)", function()
    local files = sh(("ls %s/build/bin/gdlua %s/build/lib/*.so* && find %s/build/lib/lua -name '*.so'"):format(tmp, tmp, tmp))
    local outside = {}
    for f in files:gmatch("[^\n]+") do
      local out = f:match("/libgd_dist%.so$") and "" or sh("env -i ldd " .. f)
      for line in out:gmatch("[^\n]+") do
        local name, path = line:match("^%s*(%S+) => (%S+)")
        if name and not name:match("^lib[cm]%.so") and not name:match("^lib[dp]") and not name:match("^librt")
          and not name:match("^libcu") and not name:match("^libnccl") and path:sub(1, #tmp) ~= tmp then
          outside[#outside + 1] = f:match("[^/]+$") .. ": " .. line
        end
      end
    end
    assert.are.same({}, outside)
  end)
end)

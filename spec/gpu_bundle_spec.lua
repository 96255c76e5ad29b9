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
    local mpi = io.open("build/mpi/bin/mpirun", "rb")
    if mpi then mpi:close() end
    local _, copied = sh(("mkdir -p %s/build && cp -R build/bin build/lib build/share %s %s/build/ && cp -R lua %s/"):format(
      tmp, mpi and "build/mpi" or "", tmp, tmp))
    assert(copied, "copy failed")
  end)
  teardown(function() if tmp then sh("rm -rf " .. tmp) end end)

  local test = have_patchelf and it or pending
  test("stays under 64 MiB", function()
    local out = sh("du -scm build/bin build/lib build/share $(ls -d build/mpi 2>/dev/null) lua/gd/cdef.lua | tail -n 1")
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

  -- Open MPI in the bundle (build/mpi, when libgd_dist.so is built and it
  -- fits): its mpirun, run from the fresh copy with an empty environment,
  -- starts 2 ranks whose libmpi and whose Open MPI plugins (the shared-memory
  -- transport) are the copy's, not this machine's /usr/lib ones.  Catches a
  -- plugin directory that did not move with OPAL_PKGLIBDIR (the ranks would
  -- load the machine's plugins here, and find none on a machine without MPI),
  -- and a libgd_dist.so without the RUNPATH to the copy's libmpi.
  local function bundled_mpi() local f = io.open("build/mpi/bin/mpirun", "rb") if f then f:close() end return f end
  local mpi_test = (have_patchelf and bundled_mpi()) and it or pending
  mpi_test("carries Open MPI: mpirun from the copy runs 2 ranks on the copy's libraries and plugins", function()
    local probe = tmp .. "/probe.lua"
    local f = assert(io.open(probe, "w"))
    f:write([[
gd.dist.barrier()
local maps = assert(io.open("/proc/self/maps")):read("*a")
local mpi = maps:match("(%S+libmpi%.so[%.%d]*)\n")
local vader = maps:match("(%S+mca_btl_vader%.so)\n")
print("rank " .. gd.dist.rank() .. " of " .. gd.dist.size() .. " libmpi " .. tostring(mpi) .. " vader " .. tostring(vader))
]])
    f:close()
    local out, ok = sh(("cd / && env -i PATH=/usr/bin:/bin OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " ..
      "timeout -k 5 60 %s/build/mpi/bin/mpirun --oversubscribe -np 2 %s/build/bin/gdlua %s"):format(tmp, tmp, probe))
    assert.is_true(ok, out)
    for r = 0, 1 do
      assert.matches("rank " .. r .. " of 2 libmpi " .. tmp .. "/build/mpi/lib/libmpi.so", out, 1, true)
      assert.matches("rank " .. r .. " of 2 libmpi %S+ vader " .. tmp:gsub("%p", "%%%0") .. "/build/mpi/lib/openmpi/mca_btl_vader.so", out)
    end
  end)
end)

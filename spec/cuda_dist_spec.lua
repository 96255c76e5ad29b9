-- gd.dist's NCCL path: CUDA tensors reduced across ranks (mpirun, NCCL with
-- the unique id broadcast over MPI, collectives on the CUDA backend's stream).
-- Runs where a GPU, mpirun (the machine's or the bundle's, build/mpi) and the
-- engine are present: 2 ranks with 2 GPUs or more, else 1 rank, which still
-- makes a real NCCL communicator and runs every collective and the bucket
-- stream.  One GPU per rank: NCCL does not support two ranks of a
-- communicator on one GPU ("Using the same CUDA device multiple times as
-- different ranks of the same NCCL communicator is not supported", NCCL's
-- "Creating a Communicator"; an error since 2.5, NVIDIA/nccl#103 and #418;
-- the 2.28 here has no switch for it), so one GPU runs 1 rank.
-- scripts/gpu-check runs it with the CUDA specs.
local P = dofile("spec/support/process.lua")

describe("gd.dist over NCCL (CUDA tensors)", function()
  it("reduces, broadcasts and gathers CUDA tensors as on the CPU; DataParallel (module path and buckets on their stream) keeps the ranks equal", function()
    local ok_gpu, why = pcall(function() return gd.cuda.is_available() end)
    if not ok_gpu or not why then pending("no GPU here") return end
    -- the bundle's Open MPI first (make gpu-bundle: the libmpi libgd_dist.so
    -- was built with), else the machine's
    local mpirun = P.gdlua:gsub("/bin/gdlua$", "/mpi/bin/mpirun")
    local m = io.open(mpirun, "rb")
    if m then m:close() else mpirun = P.sh("command -v mpirun 2>/dev/null"):gsub("%s+$", "") end
    if mpirun == "" then pending("mpirun is absent on this machine and from the bundle") return end
    local engine = P.gdlua:gsub("/bin/gdlua$", "/lib/libgd_dist.so")
    local f = io.open(engine, "rb")
    if not f then pending(engine .. " is not built") return end
    f:close()
    local gpus = gd.cuda.device_count()
    local np = gpus >= 2 and 2 or 1
    local dir = P.tmpdir()
    local cmd = ("cd %s && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout -k 5 120 %s " ..
      "--oversubscribe -np %d sh -c 'CUDA_VISIBLE_DEVICES=$OMPI_COMM_WORLD_LOCAL_RANK exec %s %s cuda %s' 2>&1; " ..
      "echo \"exit=$?\""):format(P.quote(P.root), P.quote(mpirun), np, P.gdlua,
      P.root .. "/spec/support/dist_worker.lua", dir)
    local out = P.sh(cmd)
    assert.matches("exit=0", out, 1, true)
    for r = 0, np - 1 do
      assert.matches("cuda autograd ok " .. r .. " float32 cap 1.52587890625e-05", out, 1, true)
      assert.matches("cuda autograd ok " .. r .. " float32 cap 25", out, 1, true)
      assert.matches("cuda ok " .. r .. " " .. np, out, 1, true)
    end
    if np == 2 then
      local a, b = gd.load(dir .. "/params.0"), gd.load(dir .. "/params.1")
      assert.equal(0, a:ne(b):sum())
    end
    P.cleanup()
  end)
end)

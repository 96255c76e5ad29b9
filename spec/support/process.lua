--- spec/support/process.lua: running the gdlua executable from specs.
--
--   local P = dofile("spec/support/process.lua")
--   local r = P.run({"-e", "print(1)"}, {stdin = "...", cwd = dir, env = {K = "v"}})
--   -- r.status (exit status), r.out (stdout), r.err (stderr)
--
-- The executable is $GDLUA, or build/bin/gdlua of this checkout.
local M = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/support"

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local p = io.popen("pwd")
  local pwd = p:read("*l")
  p:close()
  return pwd .. "/" .. path
end

M.root = (absolute(here):gsub("/spec/support$", ""))
M.gdlua = os.getenv("GDLUA") or (M.root .. "/build/bin/gdlua")

--- A single-quoted shell word.
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local files = dofile(here .. "/files.lua")
M.read, M.write = files.read, files.write

--- Runs a shell command, returns its stdout.
function M.sh(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("*a")
  p:close()
  return s
end

--- A fresh temporary directory; M.cleanup() removes every one made.
local made = {}
function M.tmpdir()
  local d = M.sh("mktemp -d /tmp/gdlua-spec.XXXXXX"):gsub("%s+$", "")
  assert(d ~= "", "mktemp failed")
  made[#made + 1] = d
  return d
end

function M.cleanup()
  for _, d in ipairs(made) do os.execute("rm -rf " .. M.quote(d)) end
  made = {}
end

--- Runs gdlua (or opts.exe) with the argument list args.
-- opts.stdin: text fed on stdin (default: /dev/null); opts.cwd; opts.env: extra
-- environment variables; opts.timeout: seconds before it is killed (default 60).
function M.run(args, opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local words = {}
  for k, v in pairs(opts.env or {}) do words[#words + 1] = k .. "=" .. M.quote(v) end
  words[#words + 1] = "timeout -s KILL " .. (opts.timeout or 60)
  words[#words + 1] = M.quote(opts.exe or M.gdlua)
  for _, a in ipairs(args) do words[#words + 1] = M.quote(a) end
  local stdin = "/dev/null"
  if opts.stdin then
    stdin = dir .. "/stdin"
    M.write(stdin, opts.stdin)
  end
  local cmd = ("cd %s && env %s < %s > %s/out 2> %s/err; echo $?"):format(
    M.quote(opts.cwd or M.root), table.concat(words, " "), M.quote(stdin), dir, dir)
  local status = tonumber((M.sh(cmd):match("(%d+)%s*$")))
  return {status = status, out = M.read(dir .. "/out") or "", err = M.read(dir .. "/err") or ""}
end

return M

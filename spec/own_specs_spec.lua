-- Writing and running your own specs: scripts/run-specs, the repository's
-- .busted (plain `busted`), an installed gdlua-busted, and the closing line
-- that .ci/run reports.  (`gdlua -b` itself: spec/host_spec.lua.)
-- Run: build/bin/gdlua scripts/busted.lua spec/own_specs_spec.lua
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
local P = dofile(here .. "/support/process.lua")

local function contains(haystack, needle)
  return haystack:find(needle, 1, true) ~= nil
end

local function last_line(s)
  return s:match("([^\n]*)\n?$")
end

-- one pass, one failure, one pending: counts a mix-up between any two shows
local MIXED = [[
describe("mixed", function()
  it("passes with gd", function() assert.are.equal(3, gd.ones(3):sum()) end)
  it("fails", function() assert.are.equal(1, 2) end)
  pending("is pending")
end)
]]
local PASSING = [[
describe("passing", function()
  it("passes", function() assert.truthy(gd.zeros(1)) end)
  it("passes again", function() assert.truthy(help) end)
  pending("is pending")
end)
]]

-- `sh cmd` in dir; returns stdout+stderr and the exit status
local function shell(dir, cmd)
  local out = P.sh(("cd %s && { %s; } 2>&1; echo \"rc=$?\""):format(P.quote(dir), cmd))
  local rc = tonumber(out:match("rc=(%d+)\n?$"))
  return out:gsub("rc=%d+\n?$", ""), rc
end

describe("scripts/run-specs", function()
  local dir
  before_each(function()
    dir = P.tmpdir()
    os.execute("mkdir -p " .. P.quote(dir .. "/my"))
    P.write(dir .. "/my/mixed_spec.lua", MIXED)
    P.write(dir .. "/my/passing_spec.lua", PASSING)
  end)
  after_each(function() P.cleanup() end)

  it("takes spec paths relative to the caller and ends with passed, failed, skipped", function()
    -- it used to cd to the repository ("Cannot find file") and to hide pending specs
    local out, rc = shell(dir, "sh " .. P.quote(P.root .. "/scripts/run-specs") .. " my/mixed_spec.lua")
    assert.are.equal("1 passed, 1 failed, 1 skipped", last_line(out), out)
    assert.are_not.equal(0, rc)
    out, rc = shell(dir, "sh " .. P.quote(P.root .. "/scripts/run-specs") .. " my/passing_spec.lua")
    assert.are.equal("2 passed, 0 failed, 1 skipped", last_line(out), out)
    assert.are.equal(0, rc)
  end)

  it("passes arguments with spaces to busted intact, in one process", function()
    -- the repository's .busted names gdlua as busted's `lua`: without
    -- --ignore-lua busted would start gdlua again with its arguments re-split
    local out = shell(dir, "sh " .. P.quote(P.root .. "/scripts/run-specs")
                           .. " '--filter=passes again' my/passing_spec.lua")
    assert.are.equal("1 passed, 0 failed, 0 skipped", last_line(out), out)
  end)

  it("ends with a line that .ci/run's pattern finds", function()
    local ci = P.read(P.root .. "/.ci/run")
    local pattern = ci:match("grep %-E '([^']+)' \"%$log\"")
    assert.truthy(pattern, "the grep in .ci/run")
    local out = shell(dir, "sh " .. P.quote(P.root .. "/scripts/run-specs") .. " my/mixed_spec.lua")
    local log = dir .. "/log"
    P.write(log, out)
    local found = P.sh(("grep -E %s %s | tail -n 1"):format(P.quote(pattern), P.quote(log)))
    assert.are.equal("1 passed, 1 failed, 1 skipped\n", found)
  end)
end)

describe("the repository's .busted", function()
  after_each(function() P.cleanup() end)

  it("makes plain `busted` run specs under gdlua", function()
    -- without it busted runs under the system lua: gd is nil
    if not P.sh("command -v busted"):find("busted") then
      pending("busted is not on PATH")
      return
    end
    local dir = P.tmpdir()
    P.write(dir .. "/passing_spec.lua", PASSING)
    local out, rc = shell(P.root, "busted -o plainTerminal " .. P.quote(dir .. "/passing_spec.lua"))
    assert.truthy(contains(out, "2 successes / 0 failures / 0 errors / 1 pending"), out)
    assert.are.equal(0, rc)
  end)
end)

describe("make install", function()
  after_each(function() P.cleanup() end)

  it("installs gdlua-busted, which runs busted under the installed gdlua from any directory", function()
    if not P.sh("command -v make"):find("make") then
      pending("make is not installed")
      return
    end
    local dir = P.tmpdir()
    local prefix = dir .. "/prefix"
    -- NVCC= : the CUDA library is not needed to install gdlua-busted
    local out, rc = shell(P.root, ("make -s install PREFIX=%s NVCC="):format(P.quote(prefix)))
    assert.are.equal(0, rc, out)
    local exe = prefix .. "/bin/gdlua-busted"
    assert.truthy(P.sh("test -x " .. P.quote(exe) .. " && echo yes"):find("yes"), out)
    os.execute("mkdir -p " .. P.quote(dir .. "/work/t"))
    P.write(dir .. "/work/t/mixed_spec.lua", MIXED)
    out, rc = shell(dir .. "/work", P.quote(exe) .. " -o plainTerminal t/mixed_spec.lua")
    assert.truthy(contains(out, "1 success / 1 failure / 0 errors / 1 pending"), out)
    assert.are.equal(1, rc)
    -- the installed gdlua runs it, with the installed package
    P.write(dir .. "/work/t/where_spec.lua", ([[
it("uses the installed package", function()
  assert.are.equal(%q, package.searchpath("gd", package.path))
end)
]]):format(prefix .. "/share/gdlua/lua/gd/init.lua"))
    out, rc = shell(dir .. "/work", P.quote(exe) .. " -o plainTerminal t/where_spec.lua")
    assert.truthy(contains(out, "1 success / 0 failures"), out)
    assert.are.equal(0, rc)
  end)
end)

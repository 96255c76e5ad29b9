-- Every ```lua snippet of README.md runs, as a reader would run it, and says
-- what its comments say.  A snippet with describe(...) is a spec: it runs
-- under `gdlua -b`.  One that reads ../shared data is pending where that data
-- is absent.  Each runs in its own gdlua, in a fresh directory beside a link
-- to ../shared, so that out/ files land there.
-- Run: build/bin/gdlua scripts/busted.lua spec/readme_spec.lua
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
local P = dofile(here .. "/support/process.lua")

local function contains(haystack, needle)
  return haystack:find(needle, 1, true) ~= nil
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- The ```lua blocks of a Markdown text, each {text =, line = first line}.
local function lua_blocks(md)
  local blocks, current, n = {}, nil, 0
  for line in (md .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if current then
      if line:match("^```%s*$") then
        blocks[#blocks + 1] = current
        current = nil
      else
        current.lines[#current.lines + 1] = line
      end
    elseif line:match("^```lua%s*$") then
      current = {line = n + 1, lines = {}}
    end
  end
  for _, b in ipairs(blocks) do b.text = table.concat(b.lines, "\n") .. "\n" end
  return blocks
end

local readme = assert(P.read(P.root .. "/README.md"), "README.md")
local blocks = lua_blocks(readme)
local shared = P.root .. "/../shared"

-- What particular snippets claim, checked on their output.  Keyed by a text
-- the snippet contains; every key must match a snippet (so a README edit
-- cannot silently drop a check).
local claims = {
  -- the ten lines: the numbers in their own comment, d2l's published ones
  ["gd.objectives.quadratic"] = function(block, r)
    local expected = block.text:match("print%(name[^\n]*%-%-%s*([^\n]+)")
    assert.truthy(expected, "the expected numbers in the print line's comment")
    local n = 0
    for name, a, b in expected:gmatch("(%a+)%s+(%-?[%d.]+)%s+(%-?[%d.]+)") do
      local x1, x2 = r.out:match(name .. "\t(%S+)\t(%S+)\n")
      assert.truthy(x1, name .. " printed: " .. r.out)
      assert.is_true(math.abs(tonumber(x1) - tonumber(a)) < 1e-6, name .. " x1 " .. x1 .. " vs " .. a)
      assert.is_true(math.abs(tonumber(x2) - tonumber(b)) < 1e-6, name .. " x2 " .. x2 .. " vs " .. b)
      n = n + 1
    end
    assert.are.equal(2, n)
  end,
  -- your own experiment: the two pictures, and braille curves on stdout
  ["gd.objectives.rosenbrock"] = function(_, r, cwd)
    for _, f in ipairs({"out/rosenbrock.svg", "out/rosenbrock_loss.svg"}) do
      local svg = P.read(cwd .. "/" .. f)
      assert.truthy(svg and contains(svg, "<svg") and contains(svg, "</svg>"), f)
    end
    assert.truthy(r.out:find("[\226][\160-\163]"), "braille on stdout")    -- U+2800..U+28FF
    for _, name in ipairs({"Adam", "RMSProp", "momentum"}) do assert.truthy(contains(r.out, name), name) end
  end,
  -- many processes: the snippet run alone is rank 0 of 1, and its loss falls
  ["gd.dist.DataParallel"] = function(_, r)
    assert.truthy(contains(r.out, "0\t1\ttrue\n"), r.out)
    assert.truthy(contains(r.out, "epoch 3/3"), r.out)
  end,
  -- training: "about 98%" test accuracy; the digits MLP reaches at least 96%
  ["gd.data.split"] = function(_, r)
    local acc = tonumber(r.out:match("test accuracy ([%d.]+)%%"))
    assert.truthy(acc, r.out)
    assert.is_true(acc >= 96, "test accuracy " .. acc .. "%")
  end,
}

describe("README.md", function()
  after_each(function() P.cleanup() end)

  it("has Lua snippets, and every claim above matches one", function()
    assert.is_true(#blocks >= 4, #blocks .. " snippets")
    for key in pairs(claims) do
      local found = false
      for _, b in ipairs(blocks) do found = found or contains(b.text, key) end
      assert.truthy(found, "no snippet contains " .. key)
    end
  end)

  it("says how long make bench runs, as scripts/bench.lua does when it starts", function()
    -- a reader should know before starting it; the bench prints the total at the end
    local said = readme:match("`make bench` (%b())")
    assert.truthy(said, "make bench mentioned with a parenthesis")
    assert.truthy(said:find("%d+ on ") and said:find("minutes"), said)
    local r = P.run({P.root .. "/scripts/bench.lua", "no-such-part"})
    assert.truthy(r.out:find("takes a few minutes"), r.out)
    assert.truthy(r.out:find("gdlua bench: done in %d+ s\n$"), r.out)
  end)

  for _, block in ipairs(blocks) do
    local title = ("runs the snippet at line %d (%s)"):format(block.line, (block.text:match("^%s*([^\n]*)")))
    it(title, function()
      for path in block.text:gmatch('"%.%./shared/([^"]+)"') do
        if not exists(shared .. "/" .. path) then
          pending("../shared/" .. path .. " is absent")
          return
        end
      end
      local dir = P.tmpdir()
      local cwd = dir .. "/work"
      os.execute(("mkdir -p %s && ln -s %s %s/shared"):format(P.quote(cwd), P.quote(shared), P.quote(dir)))
      if block.text:find("describe%(") then
        P.write(cwd .. "/readme_snippet_spec.lua", block.text)
        local r = P.run({"-b", "-o", "plainTerminal", "readme_snippet_spec.lua"}, {cwd = cwd})
        assert.are.equal(0, r.status, r.out .. r.err)
        assert.truthy(r.out:find("[1-9]%d* success.* / 0 failures / 0 errors"), r.out)
        return
      end
      P.write(cwd .. "/snippet.lua", block.text)
      local r = P.run({"snippet.lua"}, {cwd = cwd, timeout = 120})
      assert.are.equal(0, r.status, r.err)
      assert.falsy(contains(r.err, "gdlua:"), r.err)
      for key, check in pairs(claims) do
        if contains(block.text, key) then check(block, r, cwd) end
      end
    end)
  end
end)

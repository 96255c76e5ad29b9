-- The gdlua executable as a command: options, `arg`, errors, exit status,
-- package paths.  Run: build/bin/gdlua scripts/busted.lua spec/host_spec.lua
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
local P = dofile(here .. "/support/process.lua")

-- s with Lua pattern characters escaped
local function s_escape(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

local function contains(haystack, needle)
  return haystack:find(needle, 1, true) ~= nil
end

local function lines(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

describe("gdlua", function()
  local dir

  before_each(function() dir = P.tmpdir() end)
  after_each(function() P.cleanup() end)

  local function script(name, text)
    local path = dir .. "/" .. name
    P.write(path, text)
    return path
  end

  describe("running a script", function()
    it("sets arg as lua.c does and passes the arguments as ...", function()
      local s = script("args.lua", [[
        print(arg[0], arg[1], arg[2], #arg, select("#", ...), ...)
        print(arg[-1], arg[-2], arg[-3])]])
      local r = P.run({"-e", "x = 1", s, "a b", "c"})
      assert.are.equal(0, r.status)
      assert.are.same({s .. "\ta b\tc\t2\t2\ta b\tc", "x = 1\t-e\t" .. P.gdlua}, lines(r.out))
      assert.are.equal("", r.err)
    end)

    it("gives the interpreter index -1 and the script index 0 without options", function()
      local s = script("args.lua", "print(arg[-1] == ..., arg[0], arg[1])")
      local r = P.run({s}, {})
      assert.are.equal(0, r.status)
      assert.are.equal("false\t" .. s .. "\tnil\n", r.out)
      r = P.run({s, "x"})
      assert.are.equal("false\t" .. s .. "\tx\n", r.out)
      r = P.run({"-e", "print(arg[-1], arg[0])"})
      assert.are.equal("nil\t" .. P.gdlua .. "\n", r.out)
    end)

    it("exits 0 after a clean script and with os.exit's status", function()
      assert.are.equal(0, P.run({script("ok.lua", "local x = 1")}).status)
      assert.are.equal(7, P.run({script("exit.lua", "os.exit(7)")}).status)
      assert.are.equal(1, P.run({"-e", "os.exit(false)"}).status)
      assert.are.equal(0, P.run({"-e", "os.exit(true)"}).status)
    end)

    it("reports an uncaught error as 'gdlua: file:line: message' with a traceback, status 1", function()
      local s = script("boom.lua", "local x = 1\nerror('boom')\n")
      local r = P.run({s})
      assert.are.equal(1, r.status)
      local err = lines(r.err)
      assert.are.equal("gdlua: " .. s .. ":2: boom", err[1])
      assert.are.equal("stack traceback:", err[2])
      assert.truthy(r.err:find(s .. ":2: in main chunk", 1, true))
      assert.are.equal("", r.out)
    end)

    it("reports a stack overflow with its position and a traceback", function()
      local s = script("deep.lua", "local function f() return 1 + f() end\nf()\n")
      local r = P.run({s})
      assert.are.equal(1, r.status)
      local err = lines(r.err)
      assert.are.equal("gdlua: " .. s .. ":1: stack overflow", err[1])
      assert.are.equal("stack traceback:", err[2])
      assert.truthy(r.err:find(s .. ":2: in main chunk", 1, true))
      -- the host's own frames are not shown
      assert.falsy(r.err:find("xpcall", 1, true))
      assert.falsy(r.err:find("gdlua host", 1, true))
    end)

    it("names an error object that is not a string", function()
      local r = P.run({"-e", "error({})"})
      assert.are.equal(1, r.status)
      assert.truthy(r.err:find("^gdlua: %(error object is a table value%)"))
      r = P.run({"-e", "error(setmetatable({}, {__tostring = function() return 'custom' end}))"})
      assert.are.equal("gdlua: custom\n", r.err)
      -- error() with nothing: status 1 and no message, as luajit.c (busted relies on it)
      r = P.run({"-e", "error()"})
      assert.are.same({1, ""}, {r.status, r.err})
    end)

    it("reports syntax errors and missing files", function()
      local r = P.run({script("bad.lua", "x = = 1")})
      assert.are.equal(1, r.status)
      assert.truthy(r.err:find("^gdlua: " .. s_escape(dir) .. "/bad.lua:1: unexpected symbol near '='"))
      r = P.run({dir .. "/missing.lua"})
      assert.are.equal(1, r.status)
      assert.truthy(r.err:find("^gdlua: cannot open " .. s_escape(dir) .. "/missing.lua"))
    end)

    it("stops running after the first failing -e", function()
      local r = P.run({"-e", "print(1)", "-e", "error('second')", "-e", "print(3)"})
      assert.are.equal(1, r.status)
      assert.are.equal("1\n", r.out)
      assert.truthy(r.err:find("gdlua: (command line):1: second", 1, true))
    end)

    it("skips a #! line", function()
      local r = P.run({script("sh.lua", "#!/usr/bin/env gdlua\nprint('ran')\n")})
      assert.are.equal("ran\n", r.out)
    end)
  end)

  describe("options", function()
    it("-e runs chunks in order, interleaved with -l", function()
      P.write(dir .. "/mymod.lua", "return {value = 42}")
      local r = P.run({"-e", "print('first')", "-l", "mymod", "-e", "print(mymod.value)",
                       "-l", "alias=mymod", "-eprint(alias == mymod)"}, {cwd = dir})
      assert.are.equal(0, r.status)
      assert.are.equal("first\n42\ntrue\n", r.out)
    end)

    it("- reads the program from stdin, with the arguments after it", function()
      local r = P.run({"-", "a", "b"}, {stdin = "print('stdin', arg[0], ...)"})
      assert.are.equal(0, r.status)
      assert.are.equal("stdin\t-\ta\tb\n", r.out)
    end)

    it("-- ends the options", function()
      local s = script("dash.lua", "print(...)")
      local r = P.run({"--", s, "-e", "-v"})
      assert.are.equal(0, r.status)
      assert.are.equal("-e\t-v\n", r.out)
    end)

    it("-v prints the gdlua and LuaJIT versions", function()
      local r = P.run({"-v"})
      assert.are.equal(0, r.status)
      local expected = P.run({"-e", "io.write(require('gd.ffi').C.gd_version() and " ..
                                    "require('ffi').string(require('gd.ffi').C.gd_version()))"}).out
      assert.truthy(expected ~= "")
      assert.are.equal(1, #lines(r.out))
      assert.truthy(r.out:find(expected, 1, true))
      assert.truthy(r.out:find("LuaJIT 2%.%d"))
    end)

    it("rejects an unknown option or a missing argument with a usage message", function()
      for _, args in ipairs({{"-x"}, {"-e"}, {"-l"}, {"-vx"}, {"--x"}}) do
        local r = P.run(args)
        assert.are.equal(1, r.status)
        assert.truthy(r.err:find("usage: gdlua", 1, true), r.err)
        assert.are.equal("", r.out)
      end
    end)

    it("-m runs require(module).main with the arguments after the name, its return the exit status", function()
      -- python -m's shape: options before -m run first, everything after the
      -- name is the module's (even "-x"), arg[0] is the name
      P.write(dir .. "/mymod.lua", [[
        return {main = function(...)
          print(arg[0], select("#", ...), ...)
          return tonumber((...)) or 0
        end}]])
      local path = "package.path = " .. string.format("%q", dir .. "/?.lua;") .. " .. package.path"
      local r = P.run({"-e", path, "-m", "mymod", "7", "-x", "b c"})
      assert.are.equal(7, r.status, r.err)
      assert.are.equal("mymod\t3\t7\t-x\tb c\n", r.out)
      r = P.run({"-e", path, "-m", "mymod", "ok"})
      assert.are.equal(0, r.status)
      -- a module without main, a missing module, a missing name: status 1 and why
      P.write(dir .. "/nomain.lua", "return {}")
      r = P.run({"-e", path, "-m", "nomain"})
      assert.are.equal(1, r.status)
      assert.truthy(r.err:find('gdlua -m: module "nomain" has no main function', 1, true), r.err)
      r = P.run({"-m", "no.such.module"})
      assert.are.equal(1, r.status)
      assert.truthy(r.err:find("module 'no.such.module' not found", 1, true), r.err)
      r = P.run({"-m"})
      assert.are.equal(1, r.status)
      assert.truthy(r.err:find("missing module name after '-m'", 1, true), r.err)
    end)

    it("-j and -O reach LuaJIT's jit library", function()
      local r = P.run({"-joff", "-e", "print((jit.status()))"})
      assert.are.equal("false\n", r.out)
      r = P.run({"-O3", "-e", "print((jit.status()))"})
      assert.are.equal("true\n", r.out)
      r = P.run({"-j", "nosuchcommand", "-e", "print(1)"})
      assert.are.equal(1, r.status)
    end)

    it("runs LUA_INIT first unless -E", function()
      local r = P.run({"-e", "print(init)"}, {env = {LUA_INIT = "init = 'yes'"}})
      assert.are.equal("yes\n", r.out)
      r = P.run({"-E", "-e", "print(init)"}, {env = {LUA_INIT = "init = 'yes'"}})
      assert.are.equal("nil\n", r.out)
      P.write(dir .. "/init.lua", "init = 'file'")
      r = P.run({"-e", "print(init)"}, {env = {LUA_INIT = "@" .. dir .. "/init.lua"}})
      assert.are.equal("file\n", r.out)
    end)
  end)

  describe("without a script", function()
    it("runs the program on stdin when stdin is not a terminal", function()
      local r = P.run({}, {stdin = "print(1 + 1)\nprint(arg[0] ~= nil)\n"})
      assert.are.equal(0, r.status)
      assert.are.equal("2\ntrue\n", r.out)
      r = P.run({}, {stdin = "error('from stdin')"})
      assert.are.equal(1, r.status)
      assert.truthy(r.err:find("^gdlua: stdin:1: from stdin"))
    end)

    it("does nothing more after -e or -v", function()
      local r = P.run({"-e", "print(5)"}, {stdin = "print(6)"})
      assert.are.equal("5\n", r.out)
    end)
  end)

  describe("the gd package", function()
    it("is loaded as the global gd before anything runs", function()
      local r = P.run({"-e", "print(type(gd), gd == require 'gd', gd.is_tensor(gd.zeros(2)))"})
      assert.are.equal(0, r.status)
      assert.are.equal("table\ttrue\ttrue\n", r.out)
    end)

    it("is found next to the executable from any working directory", function()
      for _, cwd in ipairs({"/", dir}) do
        local r = P.run({"-e", "print(package.path)"}, {cwd = cwd})
        assert.are.equal(0, r.status)
        local root = P.root .. "/lua"
        assert.are.equal(root .. "/?.lua;" .. root .. "/?/init.lua;", r.out:sub(1, 2 * #root + 19))
        -- the defaults stay, so system packages (busted) are found
        assert.truthy(r.out:find("/usr/share/lua/5.1/?.lua", 1, true))
      end
    end)

    it("is found in share/gdlua/lua of an installed prefix", function()
      local prefix = dir .. "/prefix"
      os.execute(("mkdir -p %s/bin %s/lib %s/share/gdlua/lua && cp %s %s/bin/ && cp %s/../lib/libgd.so %s/lib/ "
                  .. "&& cp -R %s/lua/gd %s/share/gdlua/lua/"):format(
        prefix, prefix, prefix, P.quote(P.gdlua), prefix, P.quote(P.gdlua:match("^(.*)/[^/]*$")), prefix,
        P.quote(P.root), prefix))
      local r = P.run({"-e", "print(package.searchpath('gd', package.path), gd.zeros(1):numel())"},
                      {exe = prefix .. "/bin/gdlua", cwd = "/"})
      assert.are.equal(0, r.status, r.err)
      assert.are.equal(prefix .. "/share/gdlua/lua/gd/init.lua\t1\n", r.out)
    end)

    it("exits 1 with the error when gd cannot be loaded", function()
      local prefix = dir .. "/broken"
      os.execute(("mkdir -p %s/bin %s/lib %s/share/gdlua/lua/gd && cp %s %s/bin/ && cp %s/../lib/libgd.so %s/lib/"):format(
        prefix, prefix, prefix, P.quote(P.gdlua), prefix, P.quote(P.gdlua:match("^(.*)/[^/]*$")), prefix))
      P.write(prefix .. "/share/gdlua/lua/gd/init.lua", "error('gd is broken here', 0)")
      local r = P.run({"-e", "print('must not run')"}, {exe = prefix .. "/bin/gdlua"})
      assert.are.equal(1, r.status)
      assert.are.equal("", r.out)
      assert.truthy(r.err:find("^gdlua: gd is broken here"))
    end)
  end)

  describe("help", function()
    local doc = require "gd.doc"

    it("is gd.help and the global help in scripts and -e, not only at the prompt", function()
      -- today help is nil outside the REPL and gd.help does not exist
      local text = doc.find("gd.zeros")
      local s = script("help.lua", "print(help == gd.help, type(gd.help))\nhelp(gd.zeros)\n")
      local r = P.run({s})
      assert.are.equal(0, r.status, r.err)
      assert.are.equal("true\tfunction\n" .. text .. "\n", r.out)
      r = P.run({"-e", "help('gd.zeros')"})
      assert.are.equal(text .. "\n", r.out)
      r = P.run({"-e", "gd.help(gd.zeros)"})
      assert.are.equal(text .. "\n", r.out)
    end)

    it("documents gd.help, gd.doc and its functions, and the gd.optim.lr module", function()
      -- each printed "No documentation for ..." before
      for _, name in ipairs({"gd.help", "gd.doc", "gd.doc.lookup", "gd.doc.find", "gd.doc.names",
                             "gd.doc.register", "gd.optim.lr"}) do
        local r = P.run({"-e", "help(" .. name .. ")"})
        assert.are.equal(0, r.status, r.err)
        assert.falsy(contains(r.out, "No documentation"), name .. ": " .. r.out)
        assert.truthy(contains(r.out, name), name .. ": " .. r.out)
      end
      assert.are.equal((doc.lookup(gd.optim.lr)), (doc.find("gd.optim.lr")))
    end)
  end)

  describe("the Lua state's allocator (src/host/alloc.c)", function()
    -- The host keeps free lists of small blocks in front of LuaJIT's allocator,
    -- one list per exact size.  Heavy churn of objects of every small size
    -- (cdata of 17..64 bytes, strings, tables), with their contents checked
    -- after each round, catches a list that hands a block out for a larger size
    -- than it was made for (lists by 16-byte class instead of exact size: the
    -- object overruns its chunk and corrupts the next one, or dlmalloc aborts),
    -- and a state that does not close cleanly once the lists hold blocks.
    it("keeps every small object intact through churn of all sizes, and closes cleanly", function()
      local r = P.run({"-e", [[
        local ffi = require "ffi"
        local seed = 7
        local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return math.floor(seed / 65536) % n end
        local live, bad = {}, 0
        for round = 1, 60 do
          for i = 1, 2000 do
            local n = 1 + rnd(56)
            local v = (round * 31 + i) % 251
            local c = ffi.new("uint8_t[?]", n)
            ffi.fill(c, n, v)
            local len = 1 + rnd(40)
            live[#live + 1] = {c = c, n = n, v = v, s = string.rep(string.char(65 + v % 26), len) .. round, len = len,
              round = round, t = {v, n}}
          end
          for i = #live, 1, -1 do   -- drop about half, anywhere
            if rnd(2) == 0 then live[i] = live[#live]; live[#live] = nil end
          end
          collectgarbage()
          for _, o in ipairs(live) do
            for k = 0, o.n - 1 do if o.c[k] ~= o.v then bad = bad + 1 end end
            if o.s ~= string.rep(string.char(65 + o.v % 26), o.len) .. o.round or o.t[1] ~= o.v or o.t[2] ~= o.n then
              bad = bad + 1
            end
          end
        end
        io.write("objects=", #live, " bad=", bad, "\n")
      ]]})
      assert.are.equal(0, r.status, r.err)
      assert.truthy(contains(r.out, " bad=0\n"), r.out .. r.err)
      assert.truthy(tonumber(r.out:match("objects=(%d+)")) > 1000, r.out)
    end)
  end)

  describe("-b (busted under gdlua)", function()
    local spec_text = [[
describe("a user's spec", function()
  it("sees gd and help", function() assert.are.equal(6, gd.ones(2, 3):sum()) assert.truthy(help) end)
  it("fails", function() assert.are.equal(1, 2) end)
  pending("later")
end)
]]

    it("runs busted from the caller's directory with paths relative to it", function()
      os.execute("mkdir -p " .. P.quote(dir .. "/t"))
      P.write(dir .. "/t/mine_spec.lua", spec_text)
      local r = P.run({"-b", "-o", "plainTerminal", "t/mine_spec.lua"}, {cwd = dir})
      -- busted's own report: gd was there, the failing spec counts, status 1
      assert.truthy(contains(r.out, "1 success / 1 failure / 0 errors / 1 pending"), r.out .. r.err)
      assert.are.equal(1, r.status)
      -- and with the failure removed, status 0
      P.write(dir .. "/t/mine_spec.lua", (spec_text:gsub('it%("fails".-end%)\n', "")))
      r = P.run({"-b", "-o", "plainTerminal", "t/mine_spec.lua"}, {cwd = dir})
      assert.truthy(contains(r.out, "1 success / 0 failures / 0 errors / 1 pending"), r.out .. r.err)
      assert.are.equal(0, r.status)
    end)

    it("finds ./spec by default, as busted does, and runs options before -b", function()
      os.execute("mkdir -p " .. P.quote(dir .. "/spec"))
      P.write(dir .. "/spec/only_spec.lua",
              'it("sees what -e set", function() assert.are.equal("set", from_e) end)\n')
      local r = P.run({"-e", "from_e = 'set'", "-b", "-o", "plainTerminal"}, {cwd = dir})
      assert.truthy(contains(r.out, "1 success / 0 failures"), r.out .. r.err)
      assert.are.equal(0, r.status)
    end)

    it("ignores a .busted file's lua option (it would start gdlua again)", function()
      P.write(dir .. "/.busted", 'return {default = {lua = "/nonexistent/lua", ROOT = {"x_spec.lua"}}}\n')
      P.write(dir .. "/x_spec.lua", 'it("ran", function() assert.truthy(gd) end)\n')
      local r = P.run({"-b", "-o", "plainTerminal"}, {cwd = dir})
      assert.truthy(contains(r.out, "1 success / 0 failures"), r.out .. r.err)
    end)
  end)

  describe("Ctrl-C", function()
    it("interrupts a running script with 'interrupted!' and status 1", function()
      -- SIGINT is sent once the script has started its endless loop (the
      -- marker file says so).  -joff: a loop compiled by the JIT never looks
      -- at the debug hook (see call.c); then only a second Ctrl-C ends it.
      local marker = dir .. "/started"
      local s = script("loop.lua", ("io.open(%q, 'w'):close() while true do end"):format(marker))
      local cmd = ("%s -joff %s 2> %s/err & pid=$!; i=0; "
                   .. "while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
                   .. "kill -INT $pid; i=0; "
                   .. "while kill -0 $pid 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
                   .. "kill -KILL $pid 2>/dev/null; wait $pid; echo $?"):format(
        P.quote(P.gdlua), P.quote(s), dir, P.quote(marker))
      local status = tonumber(P.sh(cmd):match("(%d+)%s*$"))
      assert.are.equal(1, status)
      local err = P.read(dir .. "/err")
      assert.truthy(err:find("^gdlua: [^\n]*interrupted!"), err)
      assert.truthy(err:find("stack traceback:", 1, true))
    end)
  end)
end)

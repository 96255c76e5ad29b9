-- gdlua's REPL: the logic in lua/gd/repl.lua, the loop through pipes, and
-- the terminal (line editing, completion, history, Ctrl-C) through tmux.
-- Run: build/bin/gdlua scripts/busted.lua spec/repl_spec.lua
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
local P = dofile(here .. "/support/process.lua")
local Tmux = dofile(here .. "/support/tmux.lua")
local repl = require "gd.repl"

local function contains(haystack, needle)
  return haystack:find(needle, 1, true) ~= nil
end

describe("gd.repl", function()
  describe("compile", function()
    it("tries `return <line>` first, then the line as statements", function()
      local f, show = repl.compile("1 + 2")
      assert.are.same({3}, {f()})
      assert.is_true(show)
      f = repl.compile("x_repl_spec = 5")
      assert.are.same({}, {f()})
      assert.are.equal(5, x_repl_spec)
      x_repl_spec = nil
      f = repl.compile("return 1, 2")
      assert.are.same({1, 2}, {f()})
    end)

    it("keeps every result of an expression list", function()
      local f = repl.compile("1, nil, 'a'")
      assert.are.equal(3, select("#", f()))
    end)

    it("hides results after a trailing ';'", function()
      local f, show = repl.compile("1 + 2;")
      assert.are.same({3}, {f()})
      assert.is_false(show)
    end)

    it("says 'incomplete' for an unfinished function, for, table or long string", function()
      for _, src in ipairs({"function f()", "for i = 1, 3 do", "t = {1, 2,", "s = [[abc",
                            "f(", "1 +", "x = 'ab\\", "if x then", "--[[ comment"}) do
        local f, err = repl.compile(src)
        assert.is_nil(f, src)
        assert.are.equal("incomplete", err, src)
      end
    end)

    it("reports real syntax errors", function()
      local f, err = repl.compile("x = = 1")
      assert.is_nil(f)
      assert.are.equal("stdin:1: unexpected symbol near '='", err)
      f, err = repl.compile("x = 'unterminated")
      assert.is_nil(f)
      assert.truthy(contains(err, "unfinished string"))
      f, err = repl.compile("for i = 1, 2 do\nend end")
      assert.is_nil(f)
      assert.are_not.equal("incomplete", err)
    end)

    it("keeps the error position of a call in an expression", function()
      local f = repl.compile("error('boom')")
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.are.equal("stdin:1: boom", err)
    end)
  end)

  describe("format", function()
    it("prints strings as they are at the top, quoted inside tables", function()
      assert.are.equal("a\nb", repl.format("a\nb"))
      assert.are.equal('{"a\\nb", 1, true}', repl.format({"a\nb", 1, true}))
    end)

    it("prints short tables on one line, arrays first, then sorted keys", function()
      assert.are.equal("{1, 2, a = 3, b = {c = 4}, [\"x y\"] = 5}",
                       repl.format({1, 2, b = {c = 4}, a = 3, ["x y"] = 5}))
      assert.are.equal("{}", repl.format({}))
    end)

    it("indents nested tables that do not fit on a line", function()
      local t = {alpha = ("a"):rep(30), beta = {gamma = ("g"):rep(30), delta = ("d"):rep(30)}}
      assert.are.equal(table.concat({
        "{",
        '  alpha = "' .. ("a"):rep(30) .. '",',
        "  beta = {",
        '    delta = "' .. ("d"):rep(30) .. '",',
        '    gamma = "' .. ("g"):rep(30) .. '"',
        "  }",
        "}"}, "\n"), repl.format(t))
    end)

    it("survives cycles and limits depth and size", function()
      local t = {name = "t"}
      t.self = t
      assert.are.equal('{name = "t", self = <cycle>}', repl.format(t))
      local deep = {{{{{{1}}}}}}
      assert.truthy(contains(repl.format(deep), "{...}"))
      local big = {}
      for i = 1, 500 do big[i] = i end
      local s = repl.format(big)
      assert.truthy(contains(s, "... (450 more)"))
      assert.falsy(contains(s, "51,"))
    end)

    it("bounds the output of a large nested table", function()
      local wide = {}
      for i = 1, 40 do
        wide[i] = {}
        for j = 1, 40 do wide[i][j] = {j} end
      end
      local s = repl.format(wide)
      local _, n_lines = s:gsub("\n", "")
      assert.truthy(n_lines < 600, n_lines)
      assert.truthy(contains(s, "{...}"))
    end)

    it("prints a table with __tostring through it (optimizers, modules)", function()
      local obj = setmetatable({lr = 0.1}, {__tostring = function() return "RMSProp(lr=0.1) 2 params" end})
      assert.are.equal("RMSProp(lr=0.1) 2 params", repl.format(obj))
      assert.are.equal("{opt = RMSProp(lr=0.1) 2 params}", repl.format({opt = obj}))
      local broken = setmetatable({}, {__tostring = function() error("nope") end})
      assert.truthy(contains(repl.format(broken), "__tostring failed"))
    end)

    it("prints a tensor as tostring shows it, and in short inside a table", function()
      local t = gd.zeros(2, 3)
      assert.are.equal(tostring(t), repl.format(t))
      assert.are.equal("{w = <tensor float32 cpu 2x3>}", repl.format({w = t}))
    end)

    it("names documented functions", function()
      assert.are.equal("<function gd.zeros>", repl.format(gd.zeros))
    end)
  end)

  describe("candidates", function()
    local function cands(before)
      local start, list = repl.candidates(before)
      return list, start
    end

    it("completes globals and keywords", function()
      local list, start = cands("x = pri")
      assert.are.same({"print"}, list)
      assert.are.equal(5, start)
      assert.truthy(#cands("whi") >= 1 and cands("whi")[1] == "while")
    end)

    it("completes table fields", function()
      assert.are.same({"format"}, (cands("string.for")))
      local list, start = cands("string.for")
      assert.are.equal(8, start)
    end)

    it("completes methods reached through metatables", function()
      local Base = {base_method = function() end}
      Base.__index = Base
      local Class = setmetatable({class_method = function() end, field = 1}, Base)
      Class.__index = Class
      _G.repl_spec_obj = setmetatable({own = 2}, Class)
      assert.are.same({"base_method", "class_method"}, (cands("repl_spec_obj:")))
      assert.are.same({"base_method", "class_method", "field", "own"}, (cands("repl_spec_obj.")))
      _G.repl_spec_obj = nil
    end)

    it("completes tensor methods and fields", function()
      _G.repl_spec_t = gd.zeros(2)
      local methods = cands("repl_spec_t:ad")
      assert.truthy(#methods >= 2)
      for _, m in ipairs(methods) do assert.truthy(m:sub(1, 2) == "ad") end
      assert.truthy(contains(table.concat(methods, " "), "add_"))
      local fields = " " .. table.concat(cands("repl_spec_t.s"), " ") .. " "
      assert.truthy(contains(fields, " shape "), fields)
      assert.truthy(contains(fields, " size "), fields)
      assert.falsy(contains(" " .. table.concat(cands("repl_spec_t:s"), " ") .. " ", " shape "))
      _G.repl_spec_t = nil
    end)

    it("completes gd's lazily loaded submodules", function()
      local list = cands("gd.opt")
      assert.are.same({"optim"}, list)
      assert.truthy(contains(" " .. table.concat(cands("gd."), " ") .. " ", " nn "))
    end)

    it("completes gd.optim's lazily loaded optimizers and modules", function()
      -- catches lazy names the REPL cannot see (they are in gd.optim only once touched)
      assert.are.same({"LBFGS"}, (cands("gd.optim.LB")))
      assert.are.same({"torch7"}, (cands("gd.optim.torc")))
      assert.are.same({"Muon"}, (cands("gd.optim.Mu")))
    end)

    it("completes file names inside a string", function()
      local dir = P.tmpdir()
      P.write(dir .. "/alpha.lua", "")
      P.write(dir .. "/alpine.txt", "")
      os.execute("mkdir " .. dir .. "/albums")
      repl.start({listdir = function(path)
        local out = {}
        for name in P.sh("ls -p " .. P.quote(path)):gmatch("[^\n]+") do out[#out + 1] = name end
        return out
      end})
      local list, start = cands('dofile("' .. dir .. "/al")
      assert.are.same({"albums/", "alpha.lua", "alpine.txt"}, list)
      assert.are.equal(#('dofile("' .. dir .. "/") + 1, start)
      assert.are.same({}, (cands("x = 1 -- " .. dir .. "/al")))
      P.cleanup()
    end)
  end)

  describe("complete", function()
    it("inserts what all candidates share, and lists them when that is nothing", function()
      local insert, listing = repl.complete("string.fo", 80)
      assert.are.equal("rmat", insert)
      assert.is_nil(listing)
      insert, listing = repl.complete("string.g", 80)
      assert.are.equal("", insert)
      assert.are.equal("gmatch  gsub\n", listing)
      insert, listing = repl.complete("no_such_global_xyz", 80)
      assert.are.equal("", insert)
      assert.is_nil(listing)
    end)

    it("lays a long list out in columns", function()
      local names = {}
      for i = 1, 10 do names[i] = ("name%02d"):format(i) end
      assert.are.equal("name01  name04  name07  name10\nname02  name05  name08\nname03  name06  name09\n",
                       repl.columns(names, 32))
    end)
  end)
end)

describe("the REPL through pipes (gdlua -i)", function()
  after_each(function() P.cleanup() end)

  local function session(input)
    return P.run({"-i"}, {stdin = input})
  end

  it("prints results automatically, side by side", function()
    local r = session("1 + 1\n1, 'a', nil\n")
    assert.are.equal(0, r.status)
    assert.truthy(contains(r.out, "> 2\n"))
    assert.truthy(contains(r.out, "> 1\ta\tnil\n"))
  end)

  it("hides a result after ';' and keeps it in _", function()
    local r = session("6 * 7;\n_\n")
    assert.truthy(contains(r.out, "> > 42\n"))
  end)

  it("continues an incomplete chunk on a >> prompt", function()
    local r = session("for i = 1, 2 do\nprint('i=' .. i)\nend\nt = {\n1,\n}\n#t\n")
    assert.truthy(contains(r.out, "> >> >> i=1\ni=2\n"))
    assert.truthy(contains(r.out, "> >> >> > 1\n"))
  end)

  it("prints errors with a short traceback and carries on", function()
    local r = session("local function f() error('boom') end f()\nx = = 1\n40 + 2\n")
    assert.are.equal(0, r.status)
    assert.truthy(contains(r.out, "42\n"))
    local err = r.err
    assert.truthy(contains(err, "stdin:1: boom\nstack traceback:\n"), err)
    assert.truthy(contains(err, "stdin:1: in function 'f'"), err)
    assert.falsy(contains(err, "repl.lua"), err)
    assert.falsy(contains(err, "xpcall"), err)
    assert.truthy(contains(err, "stdin:1: unexpected symbol near '='"), err)
  end)

  it("shows documentation with help(x) and ?x", function()
    local doc = require "gd.doc"
    local text = doc.find("gd.zeros")
    assert.truthy(text, "gd.zeros is documented")
    local r = session("help(gd.zeros)\n?gd.zeros\n? gd.zeros\nhelp('gd.zeros')\n")
    local _, count = r.out:gsub(text:sub(1, 30):gsub("%p", "%%%0"), "")
    assert.are.equal(4, count)
  end)

  it("shows the documentation of an optimizer's or a module's class", function()
    local ok = pcall(function() return gd.optim.RMSProp and gd.nn.Linear end)
    if not ok then pending("gd.optim or gd.nn is not available") return end
    local doc = require "gd.doc"
    local r = session("opt = gd.optim.RMSProp({gd.zeros(2)}, {lr = 0.1})\n?opt\n"
                      .. "lin = gd.nn.Linear(2, 3)\n?lin\n")
    assert.truthy(contains(r.out, (doc.lookup(gd.optim.RMSProp)):sub(1, 40)), r.out)
    assert.truthy(contains(r.out, (doc.lookup(gd.nn.Linear)):sub(1, 40)), r.out)
  end)

  it("shows documentation with x? too, but leaves Lua ending in '?' alone", function()
    -- IPython's suffix form; a comment ending in '?' is still code
    local text = (require "gd.doc").find("gd.zeros")
    local r = session("gd.zeros?\ngd.zeros ?\nq = 5 -- why?\nq\n")
    local _, count = r.out:gsub(text:sub(1, 30):gsub("%p", "%%%0"), "")
    assert.are.equal(2, count, r.out)
    assert.truthy(contains(r.out, "> 5\n"), r.out)
    assert.are.equal("", r.err)
  end)

  it("prints nothing after opt:step(), but nil for an explicit nil", function()
    -- a step without a closure returns no values (PyTorch returns None and the
    -- prompt shows nothing); zero results print nothing, one nil prints nil
    local r = session("opt = gd.optim.SGD({gd.zeros(2)}, {lr = 0.1})\nopt:step()\n"
                      .. "opt:step(function() return 2.5 end)\n(function() end)()\nnil\n"
                      .. "(function() return nil end)()\n")
    assert.are.equal("> > > 2.5\n> > nil\n> nil\n> \n", r.out:gsub("^[^\n]*\n", ""))
    assert.are.equal("", r.err)
  end)

  it("says when there is no documentation and suggests names", function()
    local r = session("?gd.zer\nhelp(42)\n")
    assert.truthy(contains(r.out, "No documentation for gd.zer."))
    assert.truthy(contains(r.out, "gd.zeros"))
    assert.truthy(contains(r.out, "No documentation for a number (42)."))
  end)

  it("accepts Lua 5.1's `= expr` and reports unknown :commands", function()
    local r = session("= 2 ^ 10\n:nosuch\n")
    assert.truthy(contains(r.out, "> 1024\n"))
    assert.truthy(contains(r.err, "unknown command :nosuch"))
  end)

  it("uses _PROMPT and _PROMPT2 when they are strings", function()
    local r = session("_PROMPT = 'gd> ' _PROMPT2 = '... '\nfor i = 1, 1 do\nend\n")
    assert.truthy(contains(r.out, "> gd> ... gd> "), r.out)
  end)

  it("runs a script first with -i, keeping its globals", function()
    local dir = P.tmpdir()
    P.write(dir .. "/setup.lua", "from_script = 'set by the script'\n")
    local r = P.run({"-i", dir .. "/setup.lua"}, {stdin = "from_script\n"})
    assert.are.equal(0, r.status)
    assert.truthy(contains(r.out, "> set by the script\n"))
  end)

  it("runs REPL code with the JIT off unless :jit on", function()
    -- a loop that the JIT compiles leaves a new trace behind (jit.util); the
    -- count is taken around f() alone, in one line, so that the REPL's own
    -- code (printing, the coroutine a line runs in) cannot add traces between
    local probe = "ntraces = function() local n = 0 while require('jit.util').traceinfo(n + 1) do "
                  .. "n = n + 1 end return n end\n"
                  .. "f = function() local s = 0 for i = 1, 1000 do s = s + i end return s end\n"
                  .. "before = ntraces() sum = f() compiled = ntraces() > before\n"
                  .. "sum, compiled\n"
    local r = session(probe)
    assert.truthy(contains(r.out, "> > > 500500\tfalse\n"), r.out)
    r = session(":jit on\n" .. probe)
    assert.truthy(contains(r.out, "> > > 500500\ttrue\n"), r.out)
  end)

  it(":time on prints each command's wall time; :q quits", function()
    local r = session(":time on\n1\n:q\nprint('after quit')\n")
    assert.are.equal(0, r.status)
    assert.truthy(r.out:find("timing is on\n> 1\nwall time: [%d.]+ [mu]?s\n"))
    assert.falsy(contains(r.out, "after quit"))
  end)

  it("runs stdin as a program without -i", function()
    local r = P.run({}, {stdin = "x = 1 + 1\nprint(x)\n"})
    assert.are.equal("2\n", r.out)
  end)
end)

describe("the REPL on a terminal", function()
  local term, dir

  before_each(function()
    dir = P.tmpdir()
  end)

  after_each(function()
    if term then term:close() term = nil end
    P.cleanup()
  end)

  local function start(env)
    env = env or {}
    env.HOME = env.HOME or dir
    env.GDLUA_HISTORY = env.GDLUA_HISTORY or dir .. "/history"
    term = Tmux.start({"gdlua"}, {env = env})
    term:wait_for("> ")
    return term
  end

  local function skip_without_tmux()
    if not Tmux.available() then
      pending("tmux is not installed: the terminal specs need it")
      return true
    end
  end

  it("prints results, hides them after ';' and continues lines on >>", function()
    if skip_without_tmux() then return end
    start()
    term:line("1 + 1")
    term:wait_for("> 1 + 1\n2\n>")
    term:line("x = 6 * 7;")
    term:line("for i = 1, 2 do")
    term:wait_for(">> ")
    term:line("print(x + i)")
    term:line("end")
    term:wait_for(">> end\n43\n44\n>")
  end)

  it("recovers from errors", function()
    if skip_without_tmux() then return end
    start()
    term:line("error('oops')")
    term:wait_for("stdin:1: oops\nstack traceback:")
    term:line("'still here'")
    term:wait_for("\nstill here\n")
  end)

  it("completes gd.optim.RM<TAB>", function()
    if skip_without_tmux() then return end
    if not pcall(function() return gd.optim.RMSProp end) or not gd.optim.RMSProp then
      pending("gd.optim.RMSProp is not available yet")
      return
    end
    start()
    term:type("gd.optim.RM")
    term:keys("Tab")
    term:wait_for("> gd.optim.RMS")
    term:keys("Tab")                  -- RMSProp and its alias RMSprop: a list
    term:wait_for("RMSProp")
    term:type("P")
    term:keys("Tab")
    term:type("({gd.zeros(2)})")
    term:keys("Enter")
    term:wait_for("> gd.optim.RMSProp({gd.zeros(2)})\n")
  end)

  it("completes fields, methods and file names with TAB", function()
    if skip_without_tmux() then return end
    P.write(dir .. "/data_file.lua", "return 1")
    start()
    term:type("string.for")
    term:keys("Tab")
    term:wait_for("> string.format")
    term:keys("C-c")
    term:wait_for("> string.format^C")
    term:line("t = gd.zeros(3)")
    term:type("t:numel")
    term:keys("Tab")
    term:type("()")
    term:keys("Enter")
    term:wait_for("> t:numel()\n3\n")
    term:type('dofile("' .. dir .. "/data_f")
    term:keys("Tab")
    term:wait_for(dir .. '/data_file.lua')
    term:type('")')
    term:keys("Enter")
    term:wait_for('data_file.lua")\n1\n')
    term:type("string.g")
    term:keys("Tab")
    term:wait_for("gmatch  gsub")
  end)

  it("keeps a top-level local for later lines and completes its methods", function()
    -- today the local is gone on the next line (and TAB finds nothing)
    if skip_without_tmux() then return end
    start()
    term:line("local kept_local = gd.zeros(4)")
    term:type("kept_local:nu")
    term:keys("Tab")
    term:wait_for("> kept_local:numel")
    term:type("()")
    term:keys("Enter")
    term:wait_for("> kept_local:numel()\n4\n")
  end)

  it("clears the line on Ctrl-C at the prompt and exits on Ctrl-D", function()
    if skip_without_tmux() then return end
    start()
    term:type("this is not lua")
    -- Ctrl-C only once the line editor has echoed the text.  Under load the
    -- typed-ahead text was seen to vanish (the editor flushes pending input
    -- as it enters raw mode): type it again once if it does not show up.
    if not pcall(term.wait_for, term, "> this is not lua", {timeout = 3}) then
      term:type("this is not lua")
      term:wait_for("> this is not lua")
    end
    term:keys("C-c")
    term:wait_for("this is not lua^C\n>")
    term:line("for i = 1, 3 do")
    term:wait_for(">> ")
    term:keys("C-c")
    term:line("'fresh'")
    -- Ctrl-D only once the prompt is up: typed ahead while the terminal is
    -- still in cooked mode, the terminal driver itself would take it
    term:wait_for("\nfresh\n> ")
    term:keys("C-d")
    assert.are.equal(0, term:wait_exit())
  end)

  it("interrupts a running while true do end with Ctrl-C and keeps the state", function()
    if skip_without_tmux() then return end
    start()
    term:line("kept = 'state intact'")
    term:line("while true do end")
    term:wait_for("> while true do end")
    Tmux.sleep_ms(300)        -- let it run (the JIT would have compiled the loop by now)
    term:keys("C-c")
    term:wait_for("interrupted!")
    term:line("kept")
    term:wait_for("\nstate intact\n")
    term:line(":q")
    assert.are.equal(0, term:wait_exit())
  end)

  it("keeps history across two sessions", function()
    if skip_without_tmux() then return end
    start()
    term:line("history_marker = 12345")
    term:line("for i = 1, 1 do")
    term:line("end")
    term:line(":q")
    assert.are.equal(0, term:wait_exit())
    term:close()
    assert.truthy(contains(P.read(dir .. "/history") or "", "history_marker"))

    start()
    term:keys("Up")
    term:keys("Up")
    term:keys("Up")
    term:wait_for("> history_marker = 12345")
    term:keys("Enter")
    term:line("history_marker + 1")
    term:wait_for("\n12346\n")
  end)

  it("reports a broken history file once and carries on", function()
    if skip_without_tmux() then return end
    P.write(dir .. "/history", "this is not a history file\n")
    start({GDLUA_HISTORY = dir .. "/history"})
    term:wait_for("history file " .. dir .. "/history: it is not a libedit history file")
    term:line("1 + 2")
    term:wait_for("\n3\n")
    assert.are.equal("this is not a history file\n", P.read(dir .. "/history"))
    term:close()

    start({GDLUA_HISTORY = dir .. "/no/such/dir/history"})
    term:line("1 + 2")
    term:line("3 + 4")
    term:wait_for("\n7\n")
    local _, reports = term:screen():gsub("cannot write it", "")
    assert.are.equal(1, reports)
  end)
end)

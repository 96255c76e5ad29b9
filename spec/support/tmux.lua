--- spec/support/tmux.lua: driving gdlua through a pseudo-terminal with tmux.
--
--   local Tmux = dofile("spec/support/tmux.lua")
--   if not Tmux.available() then pending("tmux is not installed") return end
--   local term = Tmux.start({"gdlua", "-i"}, {env = {HOME = dir}})
--   term:line("1 + 1")              -- types the text, then Enter
--   term:wait_for("\n2\n")          -- polls the screen (10 s) until it shows this
--   term:keys("C-c")                -- tmux key names: C-c, C-d, Tab, Up ...
--   term:wait_exit()                -- the exit status once the program ends
--   term:close()
--
-- Every terminal gets its own tmux server (tmux -L <unique socket>), so
-- specs running in parallel never meet; close() kills it.
local ffi = require "ffi"
local P = dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/support")
                 .. "/process.lua")

local M = {}
M.timeout = 10          -- seconds wait_for and wait_exit poll before failing

pcall(ffi.cdef, "int poll(void *fds, unsigned long nfds, int timeout);")
pcall(ffi.cdef, "int getpid(void);")

local function sleep_ms(ms)
  if not pcall(function() ffi.C.poll(nil, 0, ms) end) then
    os.execute(("sleep %.3f"):format(ms / 1000))
  end
end

-- os.time() has whole seconds: plenty for timeouts of several seconds.
local function monotonic_deadline(seconds)
  local t0 = os.time()
  return function() return os.time() - t0 >= seconds end
end

function M.available()
  return P.sh("command -v tmux 2>/dev/null") ~= ""
end

local counter = 0
local function socket_name()
  counter = counter + 1
  local ok, pid = pcall(function() return ffi.C.getpid() end)
  if not ok then pid = math.random(1, 1e9) end
  return ("gdlua-spec-%d-%d-%d"):format(tonumber(pid), counter, math.random(1, 1e6))
end

local Term = {}
Term.__index = Term

local function tmux(self, args)
  return P.sh(("tmux -L %s %s 2>&1"):format(self.socket, args))
end

--- Starts argv (a list; argv[1] the program, "gdlua" meaning the one under
-- test) in a fresh terminal of opts.width x opts.height, with opts.env added
-- to the environment and opts.cwd as working directory.
function M.start(argv, opts)
  opts = opts or {}
  local self = setmetatable({socket = socket_name()}, Term)
  self.dir = P.tmpdir()
  self.conf = self.dir .. "/tmux.conf"
  -- remain-on-exit keeps the pane, and what it shows, after the program ends
  P.write(self.conf, "set -g remain-on-exit on\nset -g history-limit 10000\n"
                     .. "set -g default-terminal screen\nset -g status off\n")
  local words = {}
  for k, v in pairs(opts.env or {}) do words[#words + 1] = k .. "=" .. P.quote(v) end
  for i, a in ipairs(argv) do
    words[#words + 1] = P.quote(i == 1 and a == "gdlua" and P.gdlua or a)
  end
  -- The shell reports the exit status on the screen: tmux itself sometimes
  -- never reaps a pane's process (seen with tmux 3.3a), so its
  -- #{pane_dead_status} cannot be relied on.  The trap keeps the shell alive
  -- through Ctrl-C; the program still gets SIGINT with its default action.
  local cmd = ("trap true INT; cd %s && env %s; echo \"[exit status $?]\""):format(
    P.quote(opts.cwd or P.root), table.concat(words, " "))
  local out = P.sh(("tmux -L %s -f %s new-session -d -x %d -y %d -s main %s 2>&1; echo $?"):format(
    self.socket, P.quote(self.conf), opts.width or 100, opts.height or 40, P.quote(cmd)))
  assert(out:match("(%d+)%s*$") == "0", "tmux new-session failed: " .. out)
  return self
end

--- Types text literally (no key names, no Enter).
function Term:type(text)
  tmux(self, "send-keys -t main -l -- " .. P.quote(text))
end

--- Sends tmux key names: "Enter", "Tab", "C-c", "C-d", "Up" ...
function Term:keys(...)
  local names = {}
  for i = 1, select("#", ...) do names[i] = P.quote((select(i, ...))) end
  tmux(self, "send-keys -t main " .. table.concat(names, " "))
end

function Term:line(text)
  self:type(text)
  self:keys("Enter")
end

--- The whole screen and scrollback, trailing blank lines removed (the
-- trailing spaces of a line kept: the prompt is "> ").
function Term:screen()
  local s = tmux(self, "capture-pane -p -N -J -S - -t main")
  return (s:gsub("\n[\n ]*$", ""))
end

--- Polls the screen until it contains `text` (plain), or until `text`
-- matches when opts.pattern; returns the screen.  Fails with the last screen
-- after M.timeout seconds.  opts.after: only look past this many characters
-- of the screen (to skip earlier output).
function Term:wait_for(text, opts)
  opts = opts or {}
  local expired = monotonic_deadline(opts.timeout or M.timeout)
  local screen
  repeat
    screen = self:screen()
    local part = screen:sub((opts.after or 0) + 1)
    if part:find(text, 1, not opts.pattern) then return screen end
    sleep_ms(50)
  until expired()
  error(("timed out waiting for %q; the screen shows:\n%s"):format(text, screen), 2)
end

--- Waits for the program to end; returns its exit status (128 + the
-- signal number if a signal killed it), or fails after M.timeout seconds.
function Term:wait_exit(timeout)
  local screen = self:wait_for("%[exit status (%d+)%]", {pattern = true, timeout = timeout})
  return tonumber(screen:match("%[exit status (%d+)%]"))
end

function Term:close()
  tmux(self, "kill-server")
  os.execute("rm -rf " .. P.quote(self.dir))
end

M.sleep_ms = sleep_ms
return M

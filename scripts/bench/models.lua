-- bench/models.lua: training steps of issue 14's two experiments against
-- PyTorch (same threads, same shapes, timed in the same run), where
-- `/usr/bin/python3 -c "import torch"` works.
--
--   build/bin/gdlua scripts/bench/models.lua          (make bench runs it)
--
-- 1. The char-LSTM of scripts/char_rnn.lua: Embedding(96, 128), LSTM(128,
--    128, 2 layers, batch_first), Linear(128, 96), CrossEntropyLoss, Adam;
--    batches of 50 sequences of 50 characters, the state carried between
--    batches.  Sequences (and characters) per second.
-- 2. The digits CNN of scripts/digits_cnn.lua (2c2d on 8x8, RMSProp, batch
--    32): samples per second.
-- Goal (issue 14): at least 2x PyTorch's samples/s on this CPU.  Every figure
-- is the best of several repeats (the machine may be shared).
local gd = rawget(_G, "gd") or require "gd"
local now = gd.progress.now
local fmt = string.format
local nn = gd.nn

local dir = debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$") or "scripts"

local function best_of(n, fn)
  local best = math.huge
  for _ = 1, n do best = math.min(best, fn()) end
  return best
end

local V, B, T, H = 96, 50, 50, 128

local function bench_lstm(steps)
  local cr = assert(loadfile(dir .. "/char_rnn.lua"))("--as-module")
  gd.manual_seed(0)
  local m = cr.model(V, {hidden = H, layers = 2, seq = T, batch = B, embed = 128})
  local opt = gd.optim.Adam(m.net, {lr = 2e-3})
  local loss = nn.CrossEntropyLoss()
  local t = {}
  for i = 1, B do t[i] = {} for j = 1, T do t[i][j] = (i * 7 + j * 13) % V + 1 end end
  local x = gd.tensor(t, {dtype = "int64"})
  local y = x:clone()
  local h, c
  local function run()
    local t0 = now()
    for _ = 1, steps do
      m.net:zero_grad()
      local out, hn, cn = m.lstm(m.emb(x), h, c)
      local _, g = loss(m.head(out:view(B * T, H)), y:view(B * T))
      m.emb:backward(m.lstm:backward(m.head:backward(g):view(B, T, H)))
      opt:step()
      h, c = hn, cn   -- the layer copies its initial states: carrying the buffers is safe
    end
    return (now() - t0) / (steps * B)
  end
  run()
  return 1 / best_of(3, run)
end

local cnn_step = assert(loadfile(dir .. "/bench/digits_cnn_step.lua"))()
local function bench_cnn(steps) return 1 / cnn_step(dir, steps) end

local TORCH_SCRIPT = [=[
import sys, time
import torch
from torch import nn
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
V, B, T, H = 96, 50, 50, 128

class CharRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 128)
        self.lstm = nn.LSTM(128, H, num_layers=2, batch_first=True)
        self.head = nn.Linear(H, V)
    def forward(self, x, state):
        out, state = self.lstm(self.emb(x), state)
        return self.head(out.reshape(B * T, H)), state

def lstm(steps):
    m = CharRNN()
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    loss = nn.CrossEntropyLoss()
    x = torch.randint(0, V, (B, T))
    y = x.clone().reshape(B * T)
    state = None
    def run():
        nonlocal state
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            logits, state = m(x, state)
            state = tuple(s.detach() for s in state)
            loss(logits, y).backward()
            opt.step()
        return (time.perf_counter() - t0) / (steps * B)
    run()
    return 1 / min(run() for _ in range(3))

def cnn(steps):
    net = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(128, 10))
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9)
    loss = nn.CrossEntropyLoss()
    x, y = torch.rand(32, 64), torch.arange(32) % 10
    def run():
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            loss(net(x), y).backward()
            opt.step()
        return (time.perf_counter() - t0) / (steps * 32)
    run()
    return 1 / min(run() for _ in range(3))

print("lstm_seq_per_s", lstm(int(sys.argv[2])))
print("cnn_samples_per_s", cnn(int(sys.argv[3])))
print("threads", torch.get_num_threads())
]=]

local function run_torch(lstm_steps, cnn_steps)
  local r0 = os.execute("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1")
  if r0 ~= 0 and r0 ~= true then return nil end
  local file = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(TORCH_SCRIPT)
  f:close()
  local p = io.popen(fmt("/usr/bin/python3 %s %d %d %d 2>&1", file, gd.get_num_threads(), lstm_steps, cnn_steps))
  local text = p:read("*a")
  p:close()
  os.remove(file)
  local r = {}
  for k, v in text:gmatch("(%S+) (%S+)\n") do r[k] = tonumber(v) end
  if not r.lstm_seq_per_s then
    io.write("models bench: the PyTorch run failed:\n", text, "\n")
    return nil
  end
  return r
end

local LSTM_STEPS, CNN_STEPS = 5, 200   -- PyTorch takes seconds per LSTM step on a busy 2-core machine
print(fmt("models bench: %s, %d threads", gd.version, gd.get_num_threads()))
local lstm = bench_lstm(LSTM_STEPS)
print(fmt("char-LSTM (2x128, batch %d x %d chars, Adam): %.1f sequences/s (%.0f chars/s)", B, T, lstm, lstm * T))
local cnn = bench_cnn(CNN_STEPS)
print(fmt("digits CNN (2c2d, RMSProp), batch 32: %.0f samples/s", cnn))
local torch = run_torch(LSTM_STEPS, CNN_STEPS)
if not torch then
  print("PyTorch: not installed (apt-get install python3-torch); comparison skipped")
  return
end
print(fmt("PyTorch (%d thread%s): char-LSTM %.1f sequences/s, digits CNN %.0f samples/s", torch.threads or 0,
  torch.threads == 1 and "" or "s", torch.lstm_seq_per_s, torch.cnn_samples_per_s))
local function verdict(ratio) return ratio >= 2 and "goal 2x met" or "below the 2x goal" end
local rl, rc = lstm / torch.lstm_seq_per_s, cnn / torch.cnn_samples_per_s
print(fmt("ratio char-LSTM: gdlua %.2fx PyTorch's samples/s (%s)", rl, verdict(rl)))
print(fmt("ratio digits CNN: gdlua %.2fx PyTorch's samples/s (%s)", rc, verdict(rc)))

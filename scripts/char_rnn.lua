-- char_rnn.lua [path] [steps] [seeds]: a character-level 2-layer LSTM on the
-- text of Debian's fortunes (issue 14; after DeepOBS's tolstoi_char_rnn:
-- 2 LSTM layers of 128, sequences of 50, batches of 50), comparing Graves'
-- RMSProp in the setting it came from (M.GRAVES below: the flavor's lr 1e-4,
-- momentum 0.9, decay 0.95, eps 1e-4 inside the root, and Graves' clipping of
-- the derivatives) against PyTorch's RMSProp and Adam.
--
--   build/bin/gdlua scripts/char_rnn.lua /usr/share/games/fortunes 2000 1
--
-- path: a text file or a directory of them (default /usr/share/games/fortunes,
-- Debian's `fortunes` package: `apt-get install fortunes`; its *.dat and *.u8
-- files are skipped).  The text's last 10% is held out.  Model: Embedding(V,
-- 128) (a learned stand-in for DeepOBS's one-hot input), LSTM(128, 128,
-- {num_layers = 2, batch_first = true}), Linear(128, V), CrossEntropyLoss;
-- truncated backpropagation through time with the LSTM state carried from
-- batch to batch along 50 parallel streams of the text (as DeepOBS), reset at
-- each pass over the text.  For each optimizer it prints the held-out bits
-- per character (cross-entropy / ln 2) after training, as mean +- std over the
-- seeds, and a sample of generated text.  (Loaded with "--as-module" it
-- returns its functions.)
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn

local M = {}

M.DEFAULT_PATH = "/usr/share/games/fortunes"
M.CONFIG = {hidden = 128, layers = 2, seq = 50, batch = 50, embed = 128}

-- Graves' setting.  Graves, "Generating Sequences With Recurrent Neural
-- Networks" (2013), sec. 4.2, where his RMSProp comes from: "The networks
-- were trained with rmsprop ... [eq. 38-41] with the following parameters"
-- aleph = 0.95 (the decay of both running averages), beth = 0.9 (momentum),
-- gimel = 1e-4 (learning rate), daleth = 1e-4 (inside the root): the graves
-- flavor's defaults (lua/gd/optim/flavors.lua); "The output derivatives
-- dL(x)/dy^_t were clipped in the range [-100, 100], and the LSTM derivatives
-- were clipped in the range [-10, 10]", the LSTM derivatives being, by sec.
-- 2.1, "the derivative of the loss with respect to the network inputs to the
-- LSTM layers (before the sigmoid and tanh functions are applied)": here
-- gd.nn.LSTM's gate_grad_clip (a gdlua extension) and a clamp of the logits'
-- gradient.  (His text experiments, sec. 3, trained by SGD with momentum,
-- clipped the LSTM derivatives to [-1, 1]; no setting of the paper pairs that
-- with rmsprop.)  The clip limits are on his scale, the derivatives of a
-- sequence's loss summed over its steps (eq. 6): the loss of a batch is the
-- sum of its sequences' (reduction "sum"), so each logit's derivative is
-- softmax - onehot, as his, and so is each gate's.  (With softmax outputs
-- the output clip never binds, |y - onehot| <= 1; it is kept for fidelity.)
M.GRAVES = {gate_grad_clip = 10, output_clip = 100, reduction = "sum"}

M.OPTIMIZERS = {
  {name = "RMSProp (graves)", make = function(net) return gd.optim.RMSProp(net, {flavor = "graves"}) end,
   setting = M.GRAVES},
  {name = "RMSProp (pytorch)", make = function(net) return gd.optim.RMSProp(net, {lr = 2e-3}) end},
  {name = "Adam", make = function(net) return gd.optim.Adam(net, {lr = 2e-3}) end},
}

--- The text of path (a file, or every regular text file of a directory in
-- name order), or nil and a message saying how to get it.
function M.read_text(path, max_bytes)
  local function slurp(p)
    local f = io.open(p, "rb")
    if not f then return nil end
    local s = f:read("*a")
    f:close()
    return s
  end
  local s = slurp(path)
  if s == nil or s == "" then
    -- a directory: io.open succeeds on Linux but reading fails
    local names = {}
    local ls = io.popen("ls -1 '" .. path:gsub("'", "'\\''") .. "' 2>/dev/null")
    for n in ls:lines() do
      if not n:match("%.dat$") and not n:match("%.u8$") then names[#names + 1] = n end
    end
    ls:close()
    table.sort(names)
    local parts = {}
    for _, n in ipairs(names) do
      local t = slurp(path .. "/" .. n)
      if t and #t > 0 then parts[#parts + 1] = t end
    end
    s = table.concat(parts)
  end
  if s == nil or #s == 0 then
    return nil, string.format("char_rnn: no text at '%s'; on Debian install the fortunes with "
      .. "`apt-get install fortunes` (it fills /usr/share/games/fortunes), or pass a text file", path)
  end
  if max_bytes and #s > max_bytes then s = s:sub(1, max_bytes) end
  return s
end

--- {text = s, vocab = {char...}, index = {char -> 1-based id}, train = ids,
-- test = ids} (ids: int64 tensors), the last `held_out` fraction as test.
function M.prepare(text, held_out)
  local seen, vocab = {}, {}
  for i = 1, #text do
    local ch = text:sub(i, i)
    if not seen[ch] then seen[ch] = true; vocab[#vocab + 1] = ch end
  end
  table.sort(vocab)
  local index = {}
  for i, ch in ipairs(vocab) do index[ch] = i end
  local ids = {}
  for i = 1, #text do ids[i] = index[text:sub(i, i)] end
  local n_test = math.floor(#ids * (held_out or 0.1))
  local train, test = {}, {}
  for i = 1, #ids - n_test do train[i] = ids[i] end
  for i = #ids - n_test + 1, #ids do test[#test + 1] = ids[i] end
  return {vocab = vocab, index = index, train = gd.tensor(train, {dtype = "int64"}),
          test = gd.tensor(test, {dtype = "int64"})}
end

--- B parallel streams of ids (DeepOBS's batching): a B x (L + 1) int64
-- tensor whose row b continues the text where row b - 1's part ends.
function M.streams(ids, B, T)
  local n = ids:numel()
  local L = math.floor((n - 1) / B / T) * T
  if L < T then error(string.format("char_rnn: %d characters are too few for %d streams of %d", n, B, T), 2) end
  local rows = {}
  for b = 0, B - 1 do rows[b + 1] = ids:narrow(1, b * L + 1, L + 1):view(1, L + 1) end
  return gd.cat and gd.cat(rows, 1) or M.stack_rows(rows, B, L + 1)
end

function M.stack_rows(rows, B, W)
  local out = gd.empty(B, W, {dtype = "int64"})
  for b = 1, B do out:narrow(1, b, 1):copy_(rows[b]) end
  return out
end

--- The model: {net = Sequential (all parameters, one arena), emb, lstm, head};
-- setting (optional, as M.GRAVES) gives the LSTM its gate_grad_clip.
function M.model(V, cfg, setting)
  cfg = cfg or M.CONFIG
  local emb = nn.Embedding(V, cfg.embed)
  local lstm = nn.LSTM(cfg.embed, cfg.hidden, {num_layers = cfg.layers, batch_first = true,
                                               gate_grad_clip = setting and setting.gate_grad_clip or nil})
  local head = nn.Linear(cfg.hidden, V)
  return {net = nn.Sequential{emb, lstm, head}, emb = emb, lstm = lstm, head = head, cfg = cfg,
          output_clip = setting and setting.output_clip or nil}
end

--- One forward (and with opt, backward + step) over x, y (B x T int64),
-- carrying state {h, c}; returns the mean cross-entropy (nats) whatever the
-- loss's reduction.  m.output_clip clamps the logits' gradient.
local function step(m, loss, x, y, state, opt)
  local B, T = x:size(1), x:size(2)
  local e = m.emb(x)
  local out, h, c = m.lstm(e, state.h, state.c)
  local logits = m.head(out:view(B * T, m.cfg.hidden))
  local err, grad = loss(logits, y:view(B * T))
  if loss.reduction == "sum" then err = err / (B * T) end
  if opt then
    m.net:zero_grad()
    if m.output_clip then grad:clamp_(-m.output_clip, m.output_clip) end
    local gout = m.head:backward(grad)
    local ge = m.lstm:backward(gout:view(B, T, m.cfg.hidden))
    m.emb:backward(ge)
    opt:step()
  end
  -- the next batch continues the streams: its initial state is this final one
  state.h = state.h and state.h:copy_(h) or h:clone()
  state.c = state.c and state.c:copy_(c) or c:clone()
  return err
end

--- Held-out bits per character of m on ids (streams of the test text).
function M.bits_per_char(m, ids)
  local cfg = m.cfg
  local B = math.min(cfg.batch, math.max(1, math.floor((ids:numel() - 1) / cfg.seq)))
  local S = M.streams(ids, B, cfg.seq)
  local loss, state, total, n = nn.CrossEntropyLoss(), {}, 0, 0
  m.net:evaluate()
  for k = 0, (S:size(2) - 1) / cfg.seq - 1 do
    local x = S:narrow(2, k * cfg.seq + 1, cfg.seq):contiguous()
    local y = S:narrow(2, k * cfg.seq + 2, cfg.seq):contiguous()
    total = total + step(m, loss, x, y, state)
    n = n + 1
  end
  m.net:train()
  return total / n / math.log(2)
end

--- A sample of n characters, drawn at temperature 1 after `prime`.
function M.sample(m, data, n, prime, seed)
  math.randomseed(seed or 1)
  local state = {}
  m.net:evaluate()
  local out = {}
  local ch = prime or "\n"
  for i = 1, #ch - 1 do
    step(m, nn.CrossEntropyLoss(), gd.tensor({{data.index[ch:sub(i, i)] or 1}}, {dtype = "int64"}),
      gd.tensor({{1}}, {dtype = "int64"}), state)
  end
  local id = data.index[ch:sub(-1)] or 1
  for _ = 1, n do
    local e = m.emb(gd.tensor({{id}}, {dtype = "int64"}))
    local o, h, c = m.lstm(e, state.h, state.c)
    state.h, state.c = h:clone(), c:clone()
    local p = gd.nn.Softmax()(m.head(o:view(1, m.cfg.hidden))):view(-1):totable()
    local u, acc = math.random(), 0
    id = #p
    for j = 1, #p do
      acc = acc + p[j]
      if u <= acc then id = j; break end
    end
    out[#out + 1] = data.vocab[id]
  end
  m.net:train()
  return table.concat(out)
end

--- Trains one model with optimizer entry o for `steps` batches from seed;
-- returns {bpc = held-out bits per char, losses = {per-step nats}, model}.
function M.run(o, data, steps, seed, cfg)
  cfg = cfg or M.CONFIG
  gd.manual_seed(seed)
  local m = M.model(#data.vocab, cfg, o.setting)
  local opt = o.make(m.net)
  local S = M.streams(data.train, cfg.batch, cfg.seq)
  local per_pass = (S:size(2) - 1) / cfg.seq
  local loss = nn.CrossEntropyLoss({reduction = o.setting and o.setting.reduction or "mean"})
  local state, losses = {}, {}
  for s = 0, steps - 1 do
    local k = s % per_pass
    if k == 0 then state = {} end   -- a new pass over the text: fresh states
    local x = S:narrow(2, k * cfg.seq + 1, cfg.seq):contiguous()
    local y = S:narrow(2, k * cfg.seq + 2, cfg.seq):contiguous()
    losses[s + 1] = step(m, loss, x, y, state, opt)
  end
  return {bpc = M.bits_per_char(m, data.test), losses = losses, model = m}
end

local function mean_std(xs)
  local s = 0
  for _, v in ipairs(xs) do s = s + v end
  local mu = s / #xs
  local q = 0
  for _, v in ipairs(xs) do q = q + (v - mu) ^ 2 end
  return mu, #xs > 1 and math.sqrt(q / (#xs - 1)) or 0
end

--- {name, bpc_mean, bpc_std, sample} per optimizer.
function M.compare(data, steps, seeds, cfg, sample_len)
  local results = {}
  for _, o in ipairs(M.OPTIMIZERS) do
    local bpcs, last = {}, nil
    for s = 1, seeds do
      last = M.run(o, data, steps, s - 1, cfg)
      bpcs[s] = last.bpc
    end
    local mu, sd = mean_std(bpcs)
    results[#results + 1] = {name = o.name, bpc_mean = mu, bpc_std = sd,
                             sample = M.sample(last.model, data, sample_len or 200, "\n", 7)}
  end
  return results
end

if select(1, ...) == "--as-module" then return M end

local path, steps, seeds = arg and arg[1] or M.DEFAULT_PATH, tonumber(arg and arg[2]) or 2000,
  tonumber(arg and arg[3]) or 1
local text, why = M.read_text(path)
if not text then
  io.stderr:write(why, "\n")
  os.exit(1)
end
local data = M.prepare(text, 0.1)
print(string.format("char_rnn: %d characters (%d held out), %d symbols; %d steps of %d x %d, %d seed(s)",
  #text, data.test:numel(), #data.vocab, steps, M.CONFIG.batch, M.CONFIG.seq, seeds))
for _, r in ipairs(M.compare(data, steps, seeds)) do
  print(string.format("%-18s held-out bits/char %.3f +- %.3f", r.name, r.bpc_mean, r.bpc_std))
  print("  sample: " .. r.sample:gsub("\n", "\n          "))
end

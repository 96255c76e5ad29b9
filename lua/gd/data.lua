--- gd.data: reading data sets, preparing them, and iterating in batches.
--
--     local t = gd.data.read_csv("airfoil_self_noise.dat", {sep = "\t"})
--     local z = gd.data.standardize(t)
--     local X, y = z:narrow(2, 1, 5), z:select(2, 6)
--     for xb, yb in gd.data.loader({X, y}, {batch_size = 10, seed = 1})() do ... end
--
-- Files are parsed in C (gd_parse_delimited, src/file.c); batches are gathered
-- in C into buffers the loader keeps, so an epoch allocates nothing after its
-- first pass.  Shuffling uses gd's Philox generator: the same seed gives the
-- same batches, epoch after epoch, on any machine.
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local I = require "gd.aux"
local ffi, C = I.ffi, I.C
local fmt = string.format

local M = {}

local function cerr() return ffi.string(C.gd_last_error()) end

local function rows_of(t) return t:dim() > 0 and t:size(1) or 0 end

-- --------------------------------------------------------------- read_csv

local CSV_OPTS = {sep = true, header = true, columns = true, dtype = true}
local SEP_NAMES = {tab = "\t", comma = ",", space = " ", semicolon = ";"}

--- The first line of a buffer (for headers), without the line end.
local function first_line(buf)
  local n = math.min(tonumber(buf.size), 65536)
  local s = ffi.string(buf.bytes, n)
  -- a line ends at LF, CR or CRLF, as in gd_parse_delimited
  return s:match("^([^\r\n]*)") or ""
end

local function split_line(line, sep)
  local fields = {}
  local pos = 1
  while true do
    local a = line:find(sep, pos, true)
    local f = line:sub(pos, a and a - 1 or #line)
    f = f:gsub("^%s+", ""):gsub("%s+$", ""):gsub('^"(.*)"$', "%1")
    fields[#fields + 1] = f
    if not a then break end
    pos = a + 1
  end
  return fields
end

M.read_csv = doc(function(path, opts)
  local fname = "gd.data.read_csv"
  check.path(fname, "the path", path, 2)
  opts = check.options(fname, opts, CSV_OPTS)
  local sep = opts.sep or ","
  sep = SEP_NAMES[sep] or sep
  if type(sep) ~= "string" or #sep ~= 1 or sep == "\n" or sep == "\r" or sep == "\0" then
    error(fname .. ": sep must be one character other than a line end or NUL (or \"tab\"), got "
      .. string.format("%q", tostring(opts.sep)), 2)
  end
  local dtype = opts.dtype or "float32"
  local code = I.DTYPES[dtype]
  if code == nil then error(fname .. ": " .. check.unknown_message("dtype", dtype, I.dtype_list), 2) end
  local buf = ffi.new("gd_buffer")
  local gz = path:lower():match("%.gz$") ~= nil
  if C.gd_read_file(buf, path, gz and 1 or 0) ~= 0 then error(fname .. ": " .. cerr(), 2) end
  local names
  if opts.header then names = split_line(first_line(buf), sep) end
  local st = C.gd_parse_delimited(I.out1, ffi.cast("const char *", buf.bytes), buf.size, sep:byte(),
    opts.header and 1 or 0, code)
  local msg = st ~= 0 and cerr() or nil
  local hint = ""
  if st ~= 0 and sep ~= "\t" and first_line(buf):find("\t", 1, true) then hint = " (the file has tabs: sep = \"\\t\"?)" end
  C.gd_buffer_free(buf)
  if st ~= 0 then error(fmt("%s: %s: %s%s", fname, path, msg, hint), 2) end
  local t = I.wrap(I.out1[0])
  if opts.columns ~= nil then
    local cols = opts.columns
    if type(cols) ~= "table" then cols = {cols} end
    local ncols = t:size(2)
    local idx = {}
    for i, c in ipairs(cols) do
      local j = c
      if type(c) == "string" then
        if not names then error(fmt("%s: column '%s' named, but header = false", fname, c), 2) end
        for k, name in ipairs(names) do if name == c then j = k end end
        if type(j) ~= "number" then
          error(fname .. ": " .. check.unknown_message("column", c, names), 2)
        end
      elseif type(c) ~= "number" or c ~= math.floor(c) then
        error(fmt("%s: columns[%d] must be a column number or name, got %s", fname, i, tostring(c)), 2)
      end
      if j < 0 then j = ncols + j + 1 end
      if j < 1 or j > ncols then error(fmt("%s: column %d is outside 1..%d", fname, c, ncols), 2) end
      idx[i] = j
    end
    t = t:index_select(2, idx)
    if names then
      local picked = {}
      for i, j in ipairs(idx) do picked[i] = names[j] end
      names = picked
    end
  end
  return t, names
end, "gd.data.read_csv", [[
gd.data.read_csv(path, [{sep = ",", header = false, columns = nil, dtype = "float32"}])
  -> rows x columns tensor, [column names when header = true]
  Reads delimited numbers; paths ending in .gz are decompressed (zlib).  sep is
  one character ("\t" or "tab" for tab-separated files); header = true skips
  the first line and returns its names; columns = {1, 3, "name", -1} keeps
  those columns in that order (negative counts from the end).  Lines end at
  LF, CR or CRLF.  Numbers are parsed in dtype: int64 columns exactly, as
  integers (1.7 is an error, not 1).  A malformed row, a number outside the
  dtype's range (1e400), a NUL byte or a truncated .gz file is an error naming
  the line.]])

-- ------------------------------------------------------------ standardize

M.standardize = doc(function(t, opts)
  local fname = "gd.data.standardize"
  if not gd.is_tensor(t) then error(fname .. ": expects a tensor, got " .. type(t), 2) end
  opts = check.options(fname, opts, {mean = true, std = true})
  local mean = opts.mean or t:mean(1, true)
  local std = opts.std or t:std(1, true, 0)
  if not opts.std then
    -- a constant column has no spread: leave it centred instead of dividing by 0
    std = gd.where(std:eq(0), 1, std)
  end
  return (t - mean) / std, mean, std
end, "gd.data.standardize", [[
gd.data.standardize(t, [{mean =, std =}]) -> z, mean, std
  z = (t - mean) / std per column (over the rows, dimension 1), with the
  population standard deviation (d2l's and NumPy's std, no correction).
  Constant columns are only centred.  Pass {mean =, std =} to apply the
  statistics of another set (a training set's to a test set).]])

-- ------------------------------------------------------------------ split

local SPLIT_OPTS = {shuffle = true, seed = true}

M.split = doc(function(data, at, opts)
  local fname = "gd.data.split"
  local single = gd.is_tensor(data)
  local list = single and {data} or data
  if type(list) ~= "table" or #list == 0 then error(fname .. ": expects a tensor or an array of tensors", 2) end
  opts = check.options(fname, opts, SPLIT_OPTS)
  local n = rows_of(list[1])
  for i, t in ipairs(list) do
    if not gd.is_tensor(t) then error(fmt("%s: element %d is not a tensor", fname, i), 2) end
    if rows_of(t) ~= n then error(fmt("%s: element %d has %d rows, element 1 has %d", fname, i, rows_of(t), n), 2) end
  end
  check.number(fname, "the split point", at)
  local k = at
  if at > 0 and at < 1 then k = math.floor(at * n + 0.5) end
  if k ~= math.floor(k) or k < 0 or k > n then
    error(fmt("%s: cannot split %d rows at %s (a row count 0..%d or a fraction in (0, 1))", fname, n, tostring(at), n), 2)
  end
  local a, b = {}, {}
  if opts.shuffle then
    local perm = gd.randperm(n, opts.seed ~= nil and {seed = opts.seed} or nil)
    local pa, pb = perm:narrow(1, 1, k), perm:narrow(1, k + 1, n - k)
    for i, t in ipairs(list) do a[i], b[i] = t:index_select(1, pa), t:index_select(1, pb) end
  else
    for i, t in ipairs(list) do a[i], b[i] = t:narrow(1, 1, k), t:narrow(1, k + 1, n - k) end
  end
  if single then return a[1], b[1] end
  return a, b
end, "gd.data.split", [[
gd.data.split(data, at, [{shuffle = false, seed = nil}]) -> first, rest
  data: a tensor or an array of tensors with the same number of rows ({X, y}).
  at: the number of rows of the first part, or a fraction in (0, 1).  Without
  shuffle the parts are views (the first rows, the rest); with shuffle = true
  rows are drawn by a permutation (from seed, or the global generator).]])

-- ----------------------------------------------------------------- loader

local Loader = {}
Loader.__index = Loader

local LOADER_OPTS = {batch_size = true, shuffle = true, drop_last = true, seed = true, reuse = true, shard = true}

--- The shard option: true (this rank of gd.dist) or {rank =, size =}.
local function shard_arg(fname, shard)
  if shard == nil or shard == false then return nil end
  if shard == true then
    local dist = require "gd.dist"
    return {rank = dist.rank(), size = dist.size(), dist = true}
  end
  if type(shard) ~= "table" then
    error(fname .. ": shard must be true (gd.dist's rank and size) or {rank =, size =}, got " .. type(shard), 3)
  end
  check.options(fname .. " shard", shard, {rank = true, size = true}, 3)
  local size = check.number(fname, "shard.size", shard.size, {integer = true, min = 1, level = 3})
  local rank = check.number(fname, "shard.rank", shard.rank, {integer = true, min = 0, max = size - 1, level = 3})
  return {rank = rank, size = size}
end

--- A seed for loaders made without one: drawn from the global generator, so
-- gd.manual_seed makes them reproducible too.
local function draw_seed()
  local u = gd.rand(2, {dtype = "float64"})
  return math.floor(u:get(1) * 2 ^ 31) * 2 ^ 21 + math.floor(u:get(2) * 2 ^ 21)
end

M.loader = doc(function(data, opts)
  local fname = "gd.data.loader"
  local list = gd.is_tensor(data) and {data} or data
  if type(list) ~= "table" or #list == 0 then error(fname .. ": expects a tensor or an array of tensors", 2) end
  opts = check.options(fname, opts, LOADER_OPTS)
  local n = nil
  for i, t in ipairs(list) do
    if not gd.is_tensor(t) then error(fmt("%s: element %d is not a tensor", fname, i), 2) end
    if t:dim() == 0 then error(fmt("%s: element %d is a 0-d tensor (no rows)", fname, i), 2) end
    n = n or rows_of(t)
    if rows_of(t) ~= n then error(fmt("%s: element %d has %d rows, element 1 has %d", fname, i, rows_of(t), n), 2) end
  end
  local bs = check.number(fname, "batch_size", opts.batch_size, {default = 10, integer = true, min = 1, max = 2 ^ 53})
  local shuffle = opts.shuffle ~= false
  local drop_last = opts.drop_last == true
  local shard = shard_arg(fname, opts.shard)
  local seed = opts.seed
  if seed ~= nil then check.number(fname, "seed", seed, {integer = true, min = 0}) else
    seed = draw_seed()
    if shard and shard.dist and shard.size > 1 then
      -- every rank must draw the same permutation: rank 0's seed (< 2^52, exact in float64)
      seed = require("gd.dist").broadcast(gd.tensor({seed}, {dtype = "float64"}), 0):get(1)
    end
  end
  local nb = drop_last and math.floor(n / bs) or math.ceil(n / bs)
  local ranks, rank = 1, 0
  if shard then
    -- every rank the same number of batches: the last nb mod size batches
    -- are left out (a rank with one batch fewer would hang the others' allreduce)
    ranks, rank = shard.size, shard.rank
    local total = nb
    nb = math.floor(total / ranks)
    if nb == 0 then
      error(fmt("%s: %d rows in batches of %d make %d batch%s, fewer than the %d ranks to shard them over", fname,
        n, bs, total, total == 1 and "" or "es", ranks), 2)
    end
  end
  local self = setmetatable({
    tensors = list, n = n, batch_size = bs, shuffle = shuffle, drop_last = drop_last, seed = seed,
    reuse = opts.reuse ~= false, num_batches = nb, epoch = 0, position = 0, buffers = {},
    perm = gd.arange(n, {dtype = "int64"}),   -- 0-based row numbers
    shard_size = ranks, shard_rank = rank,
  }, Loader)
  return self
end, "gd.data.loader", [[
gd.data.loader(data, [{batch_size = 10, shuffle = true, drop_last = false, seed = nil, reuse = true}])
  -> loader; `for X, y in loader do ... end` runs one epoch (as a PyTorch
  DataLoader does); `for X, y in loader() do` is the same.
  data: a tensor or an array of tensors with the same number of rows; each
  batch has one tensor per element.  Each loop (or call loader()) starts the
  next epoch (loader:batches(e) runs epoch e); with shuffle, epoch e's order
  comes from (seed, e) through Philox, so the same seed gives the same batches.
  Without a seed, one is drawn from the global generator (gd.manual_seed).
  reuse = true gathers each batch into tensors the loader keeps: a batch is
  valid until the next one (clone to keep it); reuse = false gives fresh tensors.
  Fields: n (rows), batch_size, num_batches, epoch (the last one started),
  position (its batches given so far).  loader:state_dict() /
  loader:load_state_dict(sd) save and restore epoch, position and seed for
  checkpoints: after a load, the next epoch continues where the saved one was.
  shard = true (data-parallel training, gd.dist): every rank draws the same
  epoch permutation (rank 0's seed when none is given) and takes every
  size()-th batch from its rank on: batch b of rank r is the epoch's batch
  (b - 1) * size + r + 1.  Every rank gets floor(batches / size) batches, the
  same number (the last batches mod size are left out).  shard = {rank =,
  size =} names the share without gd.dist.]])

--- Tensors of `rows` rows shaped like the data, kept per row count.
function Loader:batch_buffers(rows)
  local bufs = self.buffers[rows]
  if bufs then return bufs end
  bufs = {}
  for i, t in ipairs(self.tensors) do
    local shape = t.shape
    shape[1] = rows
    bufs[i] = gd.empty(shape, {dtype = t.dtype, device = t.device})
  end
  self.buffers[rows] = bufs
  return bufs
end

--- One batch of an epoch: the generic-for iterator behind Loader:batches,
-- a plain function over a state table (a closure per epoch would keep the
-- JIT from compiling the loops around it).
local function next_batch(st)
  local b = st.b
  if b >= st.nb then return nil end
  local self = st.loader
  local bs = self.batch_size
  local start = (b * self.shard_size + self.shard_rank) * bs
  local rows = self.n - start
  if rows > bs then rows = bs end
  st.b = b + 1
  self.position = b + 1
  local bufs = self:batch_buffers(rows)
  local tensors, ntensors, perm = self.tensors, st.ntensors, self.perm.c
  for i = 1, ntensors do
    if C.gd_nn_gather_rows(bufs[i].c, tensors[i].c, perm, start, 0) ~= 0 then error("loader: " .. cerr(), 2) end
  end
  if not self.reuse then
    local fresh = {}
    for i = 1, ntensors do fresh[i] = bufs[i]:clone() end
    bufs = fresh
  end
  if ntensors == 2 then return bufs[1], bufs[2] end
  if ntensors == 1 then return bufs[1] end
  return unpack(bufs, 1, ntensors)
end

--- An iterator over the batches of epoch `epoch` (default: the next one).
-- After load_state_dict, the restored epoch (when it was not finished)
-- continues from its saved position.
function Loader:batches(epoch)
  local resume = self.resume_epoch
  if epoch == nil then
    epoch = resume or self.epoch + 1
  else
    check.number("loader:batches", "epoch", epoch, {integer = true, min = 1})
  end
  local start = resume == epoch and self.resume_position or 0
  self.resume_epoch, self.resume_position = nil, nil
  self.epoch, self.position = epoch, start
  if self.shuffle then
    -- each epoch owns a disjoint range of 2^32 Philox counters
    if C.gd_randperm_(self.perm.c, self.seed, (epoch - 1) * 2 ^ 32) ~= 0 then error("loader: " .. cerr(), 2) end
  end
  return next_batch, {loader = self, b = start, nb = self.num_batches, ntensors = #self.tensors}
end

--- loader() / loader(epoch): Loader:batches.  `for xb, yb in loader do` calls
-- the loader itself as the iterator, with (nil, the previous xb): a nil
-- control value is the first call of a loop and starts an epoch.
Loader.__call = function(self, ...)
  local nargs = select("#", ...)
  if nargs < 2 then return self:batches(...) end
  local _, previous = ...
  local st = self.iteration
  if previous == nil or st == nil then
    local _, fresh = self:batches()
    st = fresh
    self.iteration = st
  end
  return next_batch(st)
end
Loader.__tostring = function(self)
  return fmt("loader(%d rows, batch_size = %d, %d batches%s)", self.n, self.batch_size, self.num_batches,
    self.shuffle and ", shuffled" or "")
end
doc(Loader.batches, "gd.data.Loader:batches", [[
loader:batches([epoch]) -> an iterator over one epoch's batches (default: the
epoch after the last one started, or the unfinished one a load_state_dict
restored; loader() is the same).]])

--- The loader's place: what load_state_dict needs to continue exactly.
function Loader:state_dict()
  return {epoch = self.epoch, position = self.position, seed = self.seed, n = self.n,
          batch_size = self.batch_size, shuffle = self.shuffle, drop_last = self.drop_last,
          shard_size = self.shard_size > 1 and self.shard_size or nil}
end
doc(Loader.state_dict, "gd.data.Loader:state_dict", [[
loader:state_dict() -> {epoch =, position =, seed =, n =, batch_size =, shuffle =, drop_last =}:
the last epoch started, the batches of it given so far and the shuffling seed
(with the loader's shape, which load_state_dict checks).  gd.save can write it.]])

local LOADER_STATE = {epoch = true, position = true, seed = true, n = true, batch_size = true, shuffle = true,
                      drop_last = true, shard_size = true}

--- Restores state_dict()'s place; checks everything before changing anything.
function Loader:load_state_dict(sd)
  local fname = "loader:load_state_dict"
  if type(sd) ~= "table" then error(fname .. ": expects the table loader:state_dict() gave, got " .. type(sd), 2) end
  check.options(fname, sd, LOADER_STATE, 2)
  local epoch = check.number(fname, "epoch", sd.epoch, {integer = true, min = 0, level = 2})
  local position = check.number(fname, "position", sd.position, {integer = true, min = 0, level = 2})
  local saved_ranks = check.number(fname, "shard_size", sd.shard_size, {default = 1, integer = true, min = 1, level = 2})
  local saved_bs = sd.batch_size or self.batch_size
  if saved_ranks ~= self.shard_size then
    -- saved by a run over another number of ranks (data-parallel training
    -- resumed on more or fewer): the same global batch, ranks x batch_size,
    -- is asked, so that the epoch's rows come in the same rounds; a finished
    -- epoch stays finished, within one the rounds given so far carry over
    if type(saved_bs) ~= "number" or saved_bs * saved_ranks ~= self.batch_size * self.shard_size then
      error(fmt("%s: the state is of %d rank%s with batch_size = %s; here %d rank%s need batch_size = %s for "
        .. "the same global batch (got %d)", fname, saved_ranks, saved_ranks == 1 and "" or "s", tostring(saved_bs),
        self.shard_size, self.shard_size == 1 and "" or "s", tostring((tonumber(saved_bs) or 0) * saved_ranks /
        self.shard_size), self.batch_size), 2)
    end
    local total = self.drop_last and math.floor(self.n / saved_bs) or math.ceil(self.n / saved_bs)
    if position >= math.floor(total / saved_ranks) then position = self.num_batches end
  end
  if position > self.num_batches then
    error(fmt("%s: position must be <= %d, got %d", fname, self.num_batches, position), 2)
  end
  local seed = check.number(fname, "seed", sd.seed, {integer = true, min = 0, level = 2})
  for _, k in ipairs({"n", "batch_size", "shuffle", "drop_last"}) do
    if sd[k] ~= nil and sd[k] ~= self[k] and not (k == "batch_size" and saved_ranks ~= self.shard_size) then
      error(fmt("%s: the state is of a loader with %s = %s, this one has %s", fname, k, tostring(sd[k]),
        tostring(self[k])), 2)
    end
  end
  if epoch == 0 and position > 0 then error(fname .. ": position " .. position .. " in epoch 0", 2) end
  self.epoch, self.position, self.seed, self.iteration = epoch, position, seed, nil
  if epoch > 0 and position < self.num_batches then
    self.resume_epoch, self.resume_position = epoch, position
  else
    self.resume_epoch, self.resume_position = nil, nil
  end
end
doc(Loader.load_state_dict, "gd.data.Loader:load_state_dict", [[
loader:load_state_dict(sd): restores what loader:state_dict() gave.  The next
epoch (loader(), a for loop, or gd.train) continues the saved one from its
position when it was unfinished, else starts the one after it, with the same
rows in the same order as the saved loader would have given.]])
doc(Loader, "gd.data.Loader", [[
gd.data.Loader: the class of gd.data.loader(...); iterable (`for xb, yb in loader do`),
callable (loader(), loader(epoch)), methods batches, state_dict, load_state_dict.]])

-- ------------------------------------------------- synthetic_regression

local SYN_OPTS = {w = true, b = true, n = true, noise = true, seed = true, dtype = true}

M.synthetic_regression = doc(function(opts)
  local fname = "gd.data.synthetic_regression"
  opts = check.options(fname, opts, SYN_OPTS)
  local w = opts.w or {2, -3.4}
  if gd.is_tensor(w) then w = w:reshape(-1):totable() end
  if type(w) ~= "table" or #w == 0 then error(fname .. ": w must be an array of numbers", 2) end
  local b = check.number(fname, "b", opts.b, {default = 4.2})
  local n = check.number(fname, "n", opts.n, {default = 1000, integer = true, min = 1})
  local noise = check.number(fname, "noise", opts.noise, {default = 0.01, min = 0})
  local dtype = opts.dtype or "float32"
  local state
  if opts.seed ~= nil then
    state = gd.rng_state()
    gd.manual_seed(opts.seed)
  end
  -- d2l 3.2 synthetic_data: X ~ N(0, 1), y = X w + b + N(0, noise^2)
  local X = gd.randn(n, #w, {dtype = dtype})
  local wt = gd.tensor(w, {dtype = dtype}):view(#w, 1)
  local y = gd.matmul(X, wt):add_(b):add_(gd.randn(n, 1, {dtype = dtype}):mul_(noise))
  if state then gd.set_rng_state(state) end
  return X, y
end, "gd.data.synthetic_regression", [[
gd.data.synthetic_regression{w = {2, -3.4}, b = 4.2, n = 1000, noise = 0.01, [seed], [dtype]}
  -> X (n x #w), y (n x 1): d2l 3.2's synthetic_data, X ~ N(0, 1) and
  y = X w + b + noise * N(0, 1), from gd's generator (or from seed, leaving the
  global generator as it was).]])

doc(M, "gd.data", [[
gd.data: read_csv(path, opts), standardize(t), split(data, at, opts),
loader(data, opts) (batches), synthetic_regression(opts) (d2l 3.2).]])

return M

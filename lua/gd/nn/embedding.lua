--- gd.nn.Embedding (issue 14): PyTorch's lookup table, with 1-based indices
-- (as every gdlua index) and padding_idx.  One C call per direction
-- (src/nn_embedding.c).
local gd = require "gd.tensor"
local doc = require "gd.doc"
local check = require "gd.check"
local base = require "gd.nn.module"
local I = require "gd.aux"
local ffi, C = I.ffi, I.C
local out1 = I.out1
local fmt = string.format

local priv, Module, new_class = base.priv, base.Module, base.new_class

local M = {}

local function fail(name)
  local msg = ffi.string(C.gd_last_error()):gsub("^[%w_ ]-: ", "", 1)
  error(name .. ": " .. msg, 3)
end

local EMB_OPTS = {padding_idx = true, max_norm = true, norm_type = true, scale_grad_by_freq = true, sparse = true,
                  dtype = true, device = true}

local Embedding = new_class("Embedding", Module)
M.Embedding = Embedding

function Embedding:init(num_embeddings, embedding_dim, opts)
  local fname = "gd.nn.Embedding"
  check.number(fname, "num_embeddings", num_embeddings, {integer = true, min = 1, level = 4})
  check.number(fname, "embedding_dim", embedding_dim, {integer = true, min = 1, level = 4})
  opts = check.options(fname, opts, EMB_OPTS, 4)
  local pad = opts.padding_idx
  if pad ~= nil then
    check.number(fname, "padding_idx", pad, {integer = true, level = 4})
    if pad < 0 then pad = num_embeddings + 1 + pad end   -- -1 is the last row, as in PyTorch
    if pad < 1 or pad > num_embeddings then
      base.argerr(fname, fmt("padding_idx %d is outside 1..%d", opts.padding_idx, num_embeddings), 4)
    end
  end
  self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, pad
  if opts.max_norm ~= nil then
    self.max_norm = check.number(fname, "max_norm", opts.max_norm, {min = 0, level = 4})
    self.norm_type = check.number(fname, "norm_type", opts.norm_type, {default = 2, level = 4})
    if not (self.norm_type > 0) then base.argerr(fname, fmt("norm_type must be > 0, got %g", self.norm_type), 4) end
  end
  self.scale_grad_by_freq = opts.scale_grad_by_freq == true
  if opts.sparse then base.argerr(fname, "sparse gradients are not supported (gdlua's gradients are dense)", 4) end
  -- PyTorch's reset_parameters: N(0, 1), the padding row zeroed
  local w = gd.randn(num_embeddings, embedding_dim, {dtype = opts.dtype or "float32", device = opts.device or "cpu"})
  if pad then w[pad]:zero_() end
  self:register_parameter("weight", w)
end

local rec_ip = ffi.new("int64_t[2]")

function Embedding:forward(idx)
  local P = priv[self]
  if not gd.is_tensor(idx) or idx.dtype ~= "int64" then
    base.argerr("Embedding", "the indices must be an int64 tensor, got " ..
      (gd.is_tensor(idx) and idx.dtype or type(idx)), 2)
  end
  if idx.c.is_contiguous == 0 then idx = idx:contiguous() end
  local ic, wc = idx.c, self.weight.c
  local rank = ic.rank + 1
  -- a recorded call writes a fresh output (the graph keeps it past the next call)
  local rec = base.recording(wc)
  local y = P.out
  if rec then y = nil end
  local same = y ~= nil and y.c.rank == rank and y.c.scalar_type == wc.scalar_type and
    y.c.device_kind == wc.device_kind
  if same then
    for d = 0, rank - 2 do
      if y.c.sizes[d] ~= ic.sizes[d] then same = false; break end
    end
  end
  if not same then
    local sizes = ffi.new("int64_t[?]", rank)
    for d = 0, rank - 2 do sizes[d] = ic.sizes[d] end
    sizes[rank - 1] = self.embedding_dim
    if C.gd_empty(out1, rank, sizes, wc.scalar_type, wc.device_kind) ~= 0 then fail("Embedding") end
    y = I.wrap(out1[0])
    if not rec then P.out = y end
  end
  -- max_norm renormalises the rows looked up, in place, before the lookup
  if self.max_norm and C.gd_nn_embedding_renorm(wc, ic, self.max_norm, self.norm_type) ~= 0 then fail("Embedding") end
  if C.gd_nn_embedding_forward(y.c, ic, wc) ~= 0 then fail("Embedding") end
  if rec then
    rec_ip[0], rec_ip[1] = self.padding_idx or 0, self.scale_grad_by_freq and 1 or 0
    base.record_ip("Embedding", y, C.GD_AG_NN_EMBEDDING, wc, nil, nil, ic, rec_ip, 2)
  end
  P.input = idx
  return y
end

function Embedding:backward(grad_out)
  local P = priv[self]
  if P.input == nil then base.argerr("Embedding:backward", "called before forward", 2) end
  if not gd.is_tensor(grad_out) then
    base.argerr("Embedding:backward", "the output gradient must be a tensor, got " .. type(grad_out), 2)
  end
  if grad_out.c.is_contiguous == 0 then grad_out = grad_out:contiguous() end
  local g = self.weight.grad
  if g and C.gd_nn_embedding_backward(g.c, grad_out.c, P.input.c, self.padding_idx or 0,
                                      self.scale_grad_by_freq and 1 or 0) ~= 0 then
    fail("Embedding:backward")
  end
  return nil   -- indices have no gradient
end

function Embedding:describe()
  return fmt("Embedding(%d, %d%s)", self.num_embeddings, self.embedding_dim,
    self.padding_idx and (", padding_idx = " .. self.padding_idx) or "")
end

doc(Embedding, "gd.nn.Embedding", [[
gd.nn.Embedding(num_embeddings, embedding_dim, [{padding_idx, max_norm,
  norm_type = 2, scale_grad_by_freq = false, dtype, device}])
  m(idx) looks up rows of weight (num_embeddings x embedding_dim, N(0, 1) as
  in PyTorch) at the 1-based int64 indices idx (any shape; the output adds a
  last dimension).  padding_idx (1-based; negative counts from the end) starts
  as a zero row and gets no gradient.  backward accumulates weight.grad and
  returns nil.  An index outside 1..num_embeddings is an error.  max_norm:
  each forward first scales the rows it looks up whose norm exceeds max_norm
  down to it, in place (PyTorch's embedding_renorm_); scale_grad_by_freq
  divides each index's gradient by its count in the batch.]])

return M

--- gd.nn.rnn: RNN, LSTM and GRU (issue 14), with PyTorch's names, argument
-- order, shapes ((seq, batch, feature), or (batch, seq, feature) with
-- batch_first; unbatched (seq, feature)), gate order, weight layout,
-- initialisation and state_dict keys (weight_ih_l0, weight_hh_l0, bias_ih_l0,
-- bias_hh_l0, LSTM's weight_hr_l0 with proj_size, ..., *_reverse for the
-- second direction), so weights load across.  One gdlua extension, absent in
-- PyTorch: LSTM's gate_grad_clip (Graves' derivative clipping, below).
--
--     local lstm = gd.nn.LSTM(10, 20, {num_layers = 2, batch_first = true})
--     local out, h, c = lstm(x, h0, c0)       -- h0, c0 optional (zeros)
--     local gx, gh0, gc0 = lstm:backward(grad_out, grad_h, grad_c)
--
-- Each layer and direction is one C call per pass (src/nn_rnn.c, loops in
-- src/cpu/rnn.c): one gemm for the input projection of the whole sequence,
-- then per step one gemm and one fused cell kernel (src/kernels/nn.h).
-- This file stacks the layers, applies dropout between them (training mode
-- only, not after the last, as PyTorch) and handles batch_first and unbatched
-- inputs.  On the input's device (src/cpu/rnn.c or cuda/rnn.cu).
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

--- Raises "<name>: <C's message without its own prefix>" at the layer's caller.
local function fail(name, level)
  local msg = ffi.string(C.gd_last_error()):gsub("^[%w_ ]-: ", "", 1)
  error(name .. ": " .. msg, (level or 2) + 1)
end

local function shape_str(s) return table.concat(s, "x") end

--- A reused contiguous buffer of `shape` (a Lua table) and dtype (a C scalar
-- type) on the device of the last forward's input (P.device), kept in P[key]
-- until the shape, dtype or device changes.
local sizes = ffi.new("int64_t[8]")
local function buffer(P, key, shape, dtype)
  local device = P.device or C.GD_CPU
  local b = P[key]
  if b ~= nil then
    local c = b.c
    local same = c.rank == #shape and c.scalar_type == dtype and c.device_kind == device
    for d = 1, #shape do
      if c.sizes[d - 1] ~= shape[d] then same = false end
    end
    if same then return b end
  end
  for d = 1, #shape do sizes[d - 1] = shape[d] end
  if C.gd_empty(out1, #shape, sizes, dtype, device) ~= 0 then fail("gd.nn") end
  b = I.wrap(out1[0])
  P[key] = b
  return b
end

local MODES = {RNN_TANH = C.GD_NN_RNN_TANH, RNN_RELU = C.GD_NN_RNN_RELU, LSTM = C.GD_NN_LSTM, GRU = C.GD_NN_GRU}
local GATES = {RNN_TANH = 1, RNN_RELU = 1, LSTM = 4, GRU = 3}

local OPTS = {num_layers = true, bias = true, batch_first = true, dropout = true, bidirectional = true,
              dtype = true, device = true, proj_size = true}
local RNN_OPTS = {nonlinearity = true}
local LSTM_OPTS = {gate_grad_clip = true}
for k in pairs(OPTS) do RNN_OPTS[k] = true; LSTM_OPTS[k] = true end

-- the gate gradient clip's bits as an int64 (the autograd record's integer parameters)
local clip_d = ffi.new("double[1]")
local clip_i = ffi.cast("int64_t *", clip_d)

--- The names of layer l's (0-based) parameters in direction d, as PyTorch's
-- _flat_weights_names (weight_hr: LSTM's projection, with proj_size).
local function names_of(l, d)
  local sfx = "_l" .. l .. (d == 1 and "_reverse" or "")
  return "weight_ih" .. sfx, "weight_hh" .. sfx, "bias_ih" .. sfx, "bias_hh" .. sfx, "weight_hr" .. sfx
end

--- LSTM's gate_grad_clip, checked: 0 (off) or a positive number.
local function gate_clip_of(fname, v, level)
  if v == nil or v == false then return 0 end
  check.number(fname, "gate_grad_clip", v, {level = level + 1})
  if not (v >= 0) then
    base.argerr(fname, fmt("gate_grad_clip must be 0 (off) or positive, got %s", tostring(v)), level)
  end
  return v
end

local function rnn_init(self, cls, fname, input_size, hidden_size, opts, allowed)
  check.number(fname, "input_size", input_size, {integer = true, min = 1, level = 4})
  check.number(fname, "hidden_size", hidden_size, {integer = true, min = 1, level = 4})
  opts = check.options(fname, opts, allowed, 4)
  local L = check.number(fname, "num_layers", opts.num_layers or 1, {integer = true, min = 1, level = 4})
  local p = check.number(fname, "dropout", opts.dropout or 0, {level = 4})
  if p < 0 or p > 1 then base.argerr(fname, fmt("dropout = %g is not a probability in [0, 1]", p), 4) end
  -- PyTorch 1.13's RNNBase.__init__ checks and messages
  local proj = check.number(fname, "proj_size", opts.proj_size or 0, {integer = true, level = 4})
  if proj < 0 then base.argerr(fname, "proj_size should be a positive integer or zero to disable projections", 4) end
  if proj >= hidden_size then base.argerr(fname, "proj_size has to be smaller than hidden_size", 4) end
  if proj > 0 and cls ~= "LSTM" then
    base.argerr(fname, "proj_size argument is only supported for LSTM, not RNN or GRU", 4)
  end
  local mode = cls
  if cls == "RNN" then
    local nl = opts.nonlinearity or "tanh"
    if nl == "tanh" then mode = "RNN_TANH" elseif nl == "relu" then mode = "RNN_RELU"
    else base.argerr(fname, fmt("nonlinearity must be 'tanh' or 'relu', got '%s'", tostring(nl)), 4) end
  end
  self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, L
  self.bias = opts.bias ~= false
  self.batch_first = opts.batch_first == true
  self.dropout = p
  self.bidirectional = opts.bidirectional == true
  self.proj_size = proj
  if cls == "LSTM" then self.gate_grad_clip = gate_clip_of(fname, opts.gate_grad_clip, 4) end
  local D = self.bidirectional and 2 or 1
  local GH = GATES[mode] * hidden_size
  local R = proj > 0 and proj or hidden_size   -- h's width (PyTorch's real_hidden_size)
  local topts = {dtype = opts.dtype or "float32", device = opts.device or "cpu"}
  -- PyTorch's RNNBase.reset_parameters: every weight and bias
  -- U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), weight_hr included; in
  -- _flat_weights_names' order (w_ih, w_hh, b_ih, b_hh, w_hr)
  local k = 1 / math.sqrt(hidden_size)
  for l = 0, L - 1 do
    local in_l = l == 0 and input_size or R * D
    for d = 0, D - 1 do
      local wih, whh, bih, bhh, whr = names_of(l, d)
      self:register_parameter(wih, gd.empty(GH, in_l, topts):uniform_(-k, k))
      self:register_parameter(whh, gd.empty(GH, R, topts):uniform_(-k, k))
      if self.bias then
        self:register_parameter(bih, gd.empty(GH, topts):uniform_(-k, k))
        self:register_parameter(bhh, gd.empty(GH, topts):uniform_(-k, k))
      end
      if proj > 0 then self:register_parameter(whr, gd.empty(proj, hidden_size, topts):uniform_(-k, k)) end
    end
  end
end

--- h's width: proj_size when projecting, else hidden_size.
local function hwidth(self)
  local p = self.proj_size
  return (p and p > 0) and p or self.hidden_size
end

--- The layer's gate gradient clip as the C call takes it (0: off); checked
-- again here since the field may be changed after construction.
local function gate_clip(self, name)
  return self.mode == "LSTM" and gate_clip_of(name, self.gate_grad_clip, 4) or 0
end

--- The parameter tensors of layer l, direction d (cached names): w_ih,
-- w_hh, b_ih, b_hh, w_hr (the last three may be nil).
local function params_of(self, P, l, d)
  local key = l * 2 + d + 1
  local nm = P.names
  if nm == nil then nm = {}; P.names = nm end
  local n = nm[key]
  if n == nil then
    n = {names_of(l, d)}
    nm[key] = n
  end
  return self[n[1]], self[n[2]], self[n[3]], self[n[4]], rawget(self, n[5])
end

--- h (L*D x B x W, or L*D x W unbatched; W = width, named wname), checked:
-- the contiguous state or nil.
local function state_arg(name, what, h, want, unbatched, level, wname)
  if h == nil then return nil end
  if not gd.is_tensor(h) then base.argerr(name, fmt("%s must be a tensor, got %s", what, type(h)), level) end
  local s = h.shape
  local ok = #s == #want
  for d = 1, #want do ok = ok and s[d] == want[d] end
  if not ok then
    base.argerr(name, fmt("%s has shape %s, expected %s (num_layers * num_directions x %s%s)", what,
      shape_str(s), shape_str(want), unbatched and "" or "batch x ", wname or "hidden_size"), level)
  end
  if h.c.is_contiguous == 0 then h = h:contiguous() end
  if unbatched then h = h:view(want[1], 1, want[2]) end
  return h
end

local function cdata(t) return t and t.c or nil end
local recording, rnn_forward_recorded

-- ------------------------------------------------------------ autograd

local rec_in = ffi.new("gd_tensor*[8]")
local rec_ip = ffi.new("int64_t[8]")
local flat_n = ffi.new("int64_t[1]")

local function needs(t) return t ~= nil and t.c.requires_grad ~= 0 end

--- Must this call be recorded: grad mode on and the input, a state or a
-- parameter requiring grad?
function recording(self, x, h0, c0)
  if C.gd_grad_enabled() == 0 then return false end
  if needs(x) or needs(h0) or needs(c0) then return true end
  for _, n in ipairs(rawget(self, "__params") or {}) do
    if needs(rawget(self, n)) then return true end
  end
  return false
end

--- The recorded forward: one node per layer and direction (the fused
-- kernels of m:backward), whose output is one flat tensor [y | hn | cn |
-- workspace] (src/gd.h, GD_AG_NN_RNN); the layer's output, h_n and c_n are
-- recorded views of it, dropout between layers a recorded product with its
-- mask.  Fresh tensors throughout: the graph keeps them past the next call.
function rnn_forward_recorded(self, P, x, h0, c0, T, B, unbatched)
  local name = self.__class
  local lstm = self.mode == "LSTM"
  local L, H, R = self.num_layers, self.hidden_size, hwidth(self)
  local proj = R ~= H and R or 0
  local D = self.bidirectional and 2 or 1
  local DH = D * R
  local mode = MODES[self.mode]
  clip_d[0] = gate_clip(self, name)
  local xs
  if unbatched then xs = x:contiguous():view(T, 1, self.input_size)
  elseif self.batch_first then xs = x:transpose(1, 2):contiguous()
  else xs = x:contiguous() end
  local dt = I.DTYPE_NAMES[tonumber(xs.c.scalar_type)]
  local ws_n = ffi.new("int64_t[2]")
  if C.gd_nn_rnn_workspace(ws_n, ws_n + 1, mode, T, B, H, proj) ~= 0 then fail(name, 3) end
  local ny, nh = T * B * DH, B * R
  local nc = lstm and B * H or 0
  local nws = tonumber(ws_n[0])
  local drop = self.training and self.dropout > 0 and L > 1
  local hns, cns = {}, {}
  local xin = xs
  for l = 0, L - 1 do
    local ydirs = {}
    for d = 0, D - 1 do
      local k = l * D + d + 1
      local w_ih, w_hh, b_ih, b_hh, w_hr = params_of(self, P, l, d)
      local h0k = h0 and h0[k] or nil
      local c0k = c0 and c0[k] or nil
      flat_n[0] = ny + nh + nc + nws
      -- (xs.c read here, not a pointer cached before the loop: from the second
      -- layer on nothing else reads xs, a temporary, and a compiled trace drops
      -- a local that is not read again; unless the first layer's record
      -- retained it, its header would go back to the pool)
      local flat = base.fresh(1, flat_n, xs.c)
      -- the regions the kernel writes (views taken before the record: not in the graph)
      local yv = flat:narrow(1, 1, ny):view(T, B, DH)
      local hv = flat:narrow(1, ny + 1, nh):view(B, R)
      local cv = lstm and flat:narrow(1, ny + nh + 1, nc):view(B, H) or nil
      local wsv = flat:narrow(1, ny + nh + nc + 1, nws)
      if d == 1 then yv:narrow(3, 1, R):zero_() end   -- (the other direction's columns: never read)
      if d == 0 and D == 2 then yv:narrow(3, R + 1, R):zero_() end
      if C.gd_nn_rnn_forward(yv.c, hv.c, cdata(cv), wsv.c, xin.c, cdata(h0k), cdata(c0k), w_ih.c, w_hh.c,
                             cdata(b_ih), cdata(b_hh), cdata(w_hr), mode, d) ~= 0 then
        fail(name, 3)
      end
      rec_in[0], rec_in[1], rec_in[2], rec_in[3] = xin.c, w_ih.c, w_hh.c, cdata(h0k)
      rec_in[4], rec_in[5], rec_in[6], rec_in[7] = cdata(c0k), cdata(b_ih), cdata(b_hh), cdata(w_hr)
      rec_ip[0], rec_ip[1], rec_ip[2], rec_ip[3], rec_ip[4], rec_ip[5] = T, B, H, DH, mode, d
      rec_ip[6], rec_ip[7] = proj, clip_i[0]
      local st = C.gd_autograd_record_nn(flat.c, C.GD_AG_NN_RNN, rec_in, 8, flat.c, rec_ip, 8)
      for j = 0, 7 do rec_in[j] = nil end
      if st ~= 0 then fail(name, 3) end
      -- the outputs, as recorded views of the node's output
      local yd = flat:narrow(1, 1, ny):view(T, B, DH)
      ydirs[d + 1] = D == 2 and yd:narrow(3, d * R + 1, R) or yd
      hns[k] = flat:narrow(1, ny + 1, nh):view(B, R)
      if lstm then cns[k] = flat:narrow(1, ny + nh + 1, nc):view(B, H) end
    end
    local y = D == 2 and gd.cat(ydirs, 3) or ydirs[1]
    xin = y
    if drop and l < L - 1 then
      -- the module path's mask (the same draws), applied as a recorded product
      local mask = gd.empty(T, B, DH, {dtype = dt})
      local scratch = gd.empty(T, B, DH, {dtype = dt})
      if C.gd_random_(mask.c, 0, 0, 1) ~= 0 then fail(name, 3) end
      if C.gd_nn_dropout(scratch.c, mask.c, y.c, self.dropout) ~= 0 then fail(name, 3) end
      xin = y * mask
    end
  end
  P.inputs = nil   -- (m:backward() after a recorded call: "called before forward")
  local out, hn = xin, gd.stack(hns, 1)
  local cn = lstm and gd.stack(cns, 1) or nil
  if unbatched then
    out = out:view(T, DH)
    hn = hn:view(L * D, R)
    if cn then cn = cn:view(L * D, H) end
  elseif self.batch_first then
    out = out:transpose(1, 2):contiguous()
  end
  if lstm then return out, hn, cn end
  return out, hn
end

local function rnn_forward(self, x, h0, c0)
  local name = self.__class
  local P = priv[self]
  if not gd.is_tensor(x) then base.argerr(name, "the input must be a tensor, got " .. type(x), 2) end
  P.device = x.c.device_kind   -- every buffer lives on the input's device
  local lstm = self.mode == "LSTM"
  if lstm and type(h0) == "table" and not gd.is_tensor(h0) then h0, c0 = h0[1], h0[2] end
  if not lstm and c0 ~= nil then base.argerr(name, "takes no cell state (only LSTM does)", 2) end
  local s = x.shape
  local unbatched = #s == 2
  if #s ~= 3 and not unbatched then
    base.argerr(name, fmt("the input must be 3-D (%s) or 2-D (seq x features, unbatched), got shape %s",
      self.batch_first and "batch x seq x features" or "seq x batch x features", shape_str(s)), 2)
  end
  local xs
  if unbatched then xs = (x.c.is_contiguous ~= 0 and x or x:contiguous()):view(s[1], 1, s[2])
  elseif self.batch_first then
    xs = buffer(P, "x_tm", {s[2], s[1], s[3]}, x.c.scalar_type)
    xs:copy_(x:transpose(1, 2))
  elseif x.c.is_contiguous ~= 0 then xs = x
  else xs = x:contiguous() end
  local T, B = xs.c.sizes[0], xs.c.sizes[1]
  T, B = tonumber(T), tonumber(B)
  if T < 1 or B < 1 then base.argerr(name, "the input is empty (shape " .. shape_str(s) .. ")", 2) end
  local L, H, R = self.num_layers, self.hidden_size, hwidth(self)
  local D = self.bidirectional and 2 or 1
  -- h0 is L*D x B x R (proj_size when projecting), c0 L*D x B x H
  local wname = R ~= H and "proj_size" or "hidden_size"
  h0 = state_arg(name, "h0", h0, unbatched and {L * D, R} or {L * D, B, R}, unbatched, 3, wname)
  if lstm then c0 = state_arg(name, "c0", c0, unbatched and {L * D, H} or {L * D, B, H}, unbatched, 3) end
  local dt = xs.c.scalar_type
  if recording(self, x, h0, c0) then return rnn_forward_recorded(self, P, x, h0, c0, T, B, unbatched) end
  -- the initial states are copied: the backward needs them as they were,
  -- and a caller carrying state from batch to batch passes the h_n buffer
  -- this call overwrites (out, h, c = lstm(x, h, c))
  if h0 then h0 = buffer(P, "h0_copy", {L * D, B, R}, dt):copy_(h0) end
  if c0 then c0 = buffer(P, "c0_copy", {L * D, B, H}, dt):copy_(c0) end
  local mode = MODES[self.mode]
  local ws_n = ffi.new("int64_t[2]")
  if C.gd_nn_rnn_workspace(ws_n, ws_n + 1, mode, T, B, H, R ~= H and R or 0) ~= 0 then fail(name, 2) end
  local hn = buffer(P, "hn", {L * D, B, R}, dt)
  local cn = lstm and buffer(P, "cn", {L * D, B, H}, dt) or nil
  local drop = self.training and self.dropout > 0 and L > 1
  local inputs, outputs, masks = {}, {}, {}
  local xin = xs
  for l = 0, L - 1 do
    local y = buffer(P, "y" .. l, {T, B, D * R}, dt)
    for d = 0, D - 1 do
      local k = l * D + d + 1
      local ws = buffer(P, "ws" .. k, {tonumber(ws_n[0])}, dt)
      local w_ih, w_hh, b_ih, b_hh, w_hr = params_of(self, P, l, d)
      -- (views held in locals: a view's pointer must not outlive its handle)
      local hnk, cnk = hn[k], cn and cn[k] or nil
      local h0k, c0k = h0 and h0[k] or nil, c0 and c0[k] or nil
      if C.gd_nn_rnn_forward(y.c, hnk.c, cdata(cnk), ws.c, xin.c, cdata(h0k), cdata(c0k), w_ih.c, w_hh.c,
                             cdata(b_ih), cdata(b_hh), cdata(w_hr), mode, d) ~= 0 then
        fail(name, 2)
      end
    end
    inputs[l], outputs[l] = xin, y
    xin = y
    if drop and l < L - 1 then
      local mask = buffer(P, "mask" .. l, {T, B, D * R}, dt)
      local yd = buffer(P, "ydrop" .. l, {T, B, D * R}, dt)
      if C.gd_random_(mask.c, 0, 0, 1) ~= 0 then fail(name, 2) end
      if C.gd_nn_dropout(yd.c, mask.c, y.c, self.dropout) ~= 0 then fail(name, 2) end
      masks[l] = mask
      xin = yd
    end
  end
  P.inputs, P.outputs, P.masks, P.h0, P.c0, P.T, P.B, P.unbatched = inputs, outputs, masks, h0, c0, T, B, unbatched
  P.ws_bwd = tonumber(ws_n[1])
  local out = xin
  if unbatched then
    out = out:view(T, D * R)
    hn = hn:view(L * D, R)
    if cn then cn = cn:view(L * D, H) end
  elseif self.batch_first then
    local o = buffer(P, "out_bf", {B, T, D * R}, dt)
    o:copy_(out:transpose(1, 2))
    out = o
  end
  if lstm then return out, hn, cn end
  return out, hn
end


local function rnn_backward(self, grad_out, grad_h, grad_c)
  local name = self.__class .. ":backward"
  local P = priv[self]
  if P.inputs == nil then base.argerr(name, "called before forward", 2) end
  local lstm = self.mode == "LSTM"
  local T, B, L, H = P.T, P.B, self.num_layers, self.hidden_size
  local R = hwidth(self)
  local D = self.bidirectional and 2 or 1
  local y_top = P.outputs[L - 1]
  local dt = y_top.c.scalar_type
  local gy = nil
  if grad_out ~= nil then
    if not gd.is_tensor(grad_out) then
      base.argerr(name, "the output gradient must be a tensor, got " .. type(grad_out), 2)
    end
    local want = P.unbatched and {T, D * R} or self.batch_first and {B, T, D * R} or {T, B, D * R}
    local s = grad_out.shape
    local ok = #s == #want
    for d = 1, #want do ok = ok and s[d] == want[d] end
    if not ok then
      base.argerr(name, fmt("the output gradient has shape %s, expected %s", shape_str(s), shape_str(want)), 2)
    end
    if P.unbatched then gy = (grad_out.c.is_contiguous ~= 0 and grad_out or grad_out:contiguous()):view(T, 1, D * R)
    elseif self.batch_first then
      gy = buffer(P, "gy_tm", {T, B, D * R}, grad_out.c.scalar_type)
      gy:copy_(grad_out:transpose(1, 2))
    else gy = grad_out end
    if gy.c.is_contiguous == 0 then gy = gy:contiguous() end
  end
  local ghn = state_arg(name, "grad_h", grad_h, P.unbatched and {L * D, R} or {L * D, B, R}, P.unbatched, 3,
    R ~= H and "proj_size" or "hidden_size")
  local gcn = nil
  if lstm then gcn = state_arg(name, "grad_c", grad_c, P.unbatched and {L * D, H} or {L * D, B, H}, P.unbatched, 3)
  elseif grad_c ~= nil then base.argerr(name, "takes no cell state gradient (only LSTM has one)", 2) end
  local clip = gate_clip(self, name)
  local gh0 = buffer(P, "gh0", {L * D, B, R}, dt)
  local gc0 = lstm and buffer(P, "gc0", {L * D, B, H}, dt) or nil
  local bws = buffer(P, "bws", {P.ws_bwd}, dt)
  local mode = MODES[self.mode]
  local h0, c0 = P.h0, P.c0
  local gx
  for l = L - 1, 0, -1 do
    local xin = P.inputs[l]
    local xc = xin.c
    gx = buffer(P, "gx" .. l, {T, B, tonumber(xc.sizes[2])}, dt)
    for d = 0, D - 1 do
      local k = l * D + d + 1
      local w_ih, w_hh, b_ih, b_hh, w_hr = params_of(self, P, l, d)
      -- (views held in locals: a view's pointer must not outlive its handle)
      local gh0k, gc0k = gh0[k], gc0 and gc0[k] or nil
      local ghnk, gcnk = ghn and ghn[k] or nil, gcn and gcn[k] or nil
      local h0k, c0k = h0 and h0[k] or nil, c0 and c0[k] or nil
      if C.gd_nn_rnn_backward(gx.c, gh0k.c, cdata(gc0k), w_ih.grad.c, w_hh.grad.c,
                              b_ih and b_ih.grad.c or nil, b_hh and b_hh.grad.c or nil, w_hr and w_hr.grad.c or nil,
                              bws.c, cdata(gy), cdata(ghnk), cdata(gcnk), P["ws" .. k].c, xc,
                              P.outputs[l].c, cdata(h0k), cdata(c0k), w_ih.c, w_hh.c,
                              cdata(w_hr), mode, d, d, clip) ~= 0 then
        fail(name, 2)
      end
    end
    if l > 0 then
      local mask = P.masks[l - 1]
      if mask then
        local g = buffer(P, "gdrop" .. l, {T, B, D * R}, dt)
        if C.gd_nn_dropout_backward(g.c, gx.c, mask.c) ~= 0 then fail(name, 2) end
        gy = g
      else
        gy = gx
      end
    end
  end
  if P.unbatched then
    gx = gx:view(T, self.input_size)
    gh0 = gh0:view(L * D, R)
    if gc0 then gc0 = gc0:view(L * D, H) end
  elseif self.batch_first then
    local o = buffer(P, "gx_bf", {B, T, self.input_size}, dt)
    o:copy_(gx:transpose(1, 2))
    gx = o
  end
  if lstm then return gx, gh0, gc0 end
  return gx, gh0
end

local function rnn_describe(self)
  local extra = ""
  if self.num_layers ~= 1 then extra = extra .. ", num_layers = " .. self.num_layers end
  if self.mode == "RNN_RELU" then extra = extra .. ", nonlinearity = 'relu'" end
  if not self.bias then extra = extra .. ", bias = false" end
  if self.batch_first then extra = extra .. ", batch_first = true" end
  if self.dropout ~= 0 then extra = extra .. fmt(", dropout = %g", self.dropout) end
  if self.bidirectional then extra = extra .. ", bidirectional = true" end
  if (self.proj_size or 0) > 0 then extra = extra .. ", proj_size = " .. self.proj_size end
  if (self.gate_grad_clip or 0) > 0 then extra = extra .. fmt(", gate_grad_clip = %g", self.gate_grad_clip) end
  return fmt("%s(%d, %d%s)", self.__class, self.input_size, self.hidden_size, extra)
end

local function define(cls, allowed, text)
  local K = new_class(cls, Module)
  M[cls] = K
  function K:init(input_size, hidden_size, opts)
    rnn_init(self, cls, "gd.nn." .. cls, input_size, hidden_size, opts, allowed)
  end
  K.forward = rnn_forward
  K.backward = rnn_backward
  K.describe = rnn_describe
  doc(K, "gd.nn." .. cls, text)
  return K
end

local COMMON = [[
  x is seq x batch x input_size (batch x seq x input_size with batch_first),
  or seq x input_size unbatched; the states are num_layers * num_directions x
  batch x hidden_size (zeros when not given).  The output is seq x batch x
  num_directions * hidden_size: the last layer's h at every step (both
  directions side by side).  dropout (between layers, training mode only)
  draws from gd's generator.  Parameters, as PyTorch's, per layer l and
  direction (suffix _reverse for the second): weight_ih_l<l> (G*hidden x in),
  weight_hh_l<l> (G*hidden x hidden), bias_ih_l<l>, bias_hh_l<l> (G*hidden),
  all U(+-1/sqrt(hidden_size)).  backward accumulates every parameter's .grad
  through time.  Runs on the device of its parameters and input.]]

define("RNN", RNN_OPTS, [[
gd.nn.RNN(input_size, hidden_size, [{num_layers = 1, nonlinearity = "tanh",
  bias = true, batch_first = false, dropout = 0, bidirectional = false,
  dtype, device}])
  Elman RNN, as torch.nn.RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or
  relu).  out, h_n = rnn(x, [h0]); gx, gh0 = rnn:backward(grad_out, [grad_h]).
  G = 1.
]] .. COMMON)

define("LSTM", LSTM_OPTS, [[
gd.nn.LSTM(input_size, hidden_size, [{num_layers = 1, bias = true,
  batch_first = false, dropout = 0, bidirectional = false, proj_size = 0,
  gate_grad_clip = 0, dtype, device}])
  torch.nn.LSTM: gates i, f, g, o (G = 4, in this order in the weights),
  c' = f c + i g, h' = o tanh(c').  out, h_n, c_n = lstm(x, [h0, c0]) (also
  lstm(x, {h0, c0})); gx, gh0, gc0 = lstm:backward(grad_out, [grad_h,
  grad_c]) (grad_out may be nil when only the final states are used).
  proj_size = P (0 < P < hidden_size), as PyTorch's (LSTMP, Sak et al. 2014):
  h' = W_hr (o tanh(c')) with weight_hr_l<l> (P x hidden_size), so h, h0,
  h_n and the output rows have P units (the next layer takes P, or 2P
  bidirectional), weight_hh_l<l> is 4*hidden x P; c stays hidden_size.
  gate_grad_clip = C (> 0; a gdlua extension, absent in PyTorch; 0: off):
  the backward clips the gradient of every gate's pre-activation (the
  inputs to the sigmoids and tanh) to [-C, C] before it flows on to the
  weights, the input and the previous step, as Graves 2013 (sec. 2.1, 4.2:
  10 with his RMSProp) does; the cell state's gradient is not clipped.  A
  field (lstm.gate_grad_clip) that may be changed between steps.
]] .. COMMON)

define("GRU", OPTS, [[
gd.nn.GRU(input_size, hidden_size, [{num_layers = 1, bias = true,
  batch_first = false, dropout = 0, bidirectional = false, dtype, device}])
  torch.nn.GRU: gates r, z, n (G = 3), n = tanh(W_in x + b_in + r (W_hn h +
  b_hn)), h' = (1 - z) n + z h.  out, h_n = gru(x, [h0]);
  gx, gh0 = gru:backward(grad_out, [grad_h]).
]] .. COMMON)

-- ------------------------------------------------------------------ cells

-- RNNCell, LSTMCell, GRUCell: one step of one layer (torch.nn.*Cell), the
-- same C kernels with a sequence of 1; parameters weight_ih, weight_hh,
-- bias_ih, bias_hh as PyTorch's.
local CELL_OPTS = {bias = true, dtype = true, device = true}
local RNN_CELL_OPTS = {bias = true, dtype = true, device = true, nonlinearity = true}

local function cell_init(self, cls, fname, input_size, hidden_size, opts, allowed)
  check.number(fname, "input_size", input_size, {integer = true, min = 1, level = 4})
  check.number(fname, "hidden_size", hidden_size, {integer = true, min = 1, level = 4})
  opts = check.options(fname, opts, allowed, 4)
  local mode = cls
  if cls == "RNN" then
    local nl = opts.nonlinearity or "tanh"
    if nl == "tanh" then mode = "RNN_TANH" elseif nl == "relu" then mode = "RNN_RELU"
    else base.argerr(fname, fmt("nonlinearity must be 'tanh' or 'relu', got '%s'", tostring(nl)), 4) end
  end
  self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, opts.bias ~= false
  local GH = GATES[mode] * hidden_size
  local topts = {dtype = opts.dtype or "float32", device = opts.device or "cpu"}
  local k = 1 / math.sqrt(hidden_size)   -- PyTorch's RNNCellBase.reset_parameters
  self:register_parameter("weight_ih", gd.empty(GH, input_size, topts):uniform_(-k, k))
  self:register_parameter("weight_hh", gd.empty(GH, hidden_size, topts):uniform_(-k, k))
  if self.bias then
    self:register_parameter("bias_ih", gd.empty(GH, topts):uniform_(-k, k))
    self:register_parameter("bias_hh", gd.empty(GH, topts):uniform_(-k, k))
  end
end

--- h (B x H, or H unbatched) checked and copied into P[key]; nil stays nil.
local function cell_state(name, what, h, B, H, unbatched, P, key, dt)
  if h == nil then return nil end
  if not gd.is_tensor(h) then base.argerr(name, fmt("%s must be a tensor, got %s", what, type(h)), 3) end
  local s = h.shape
  local ok = unbatched and (#s == 1 and s[1] == H) or (#s == 2 and s[1] == B and s[2] == H)
  if not ok then
    base.argerr(name, fmt("%s has shape %s, expected %s", what, shape_str(s),
      unbatched and tostring(H) or (B .. "x" .. H) .. " (batch x hidden_size)"), 3)
  end
  if P == nil then return (unbatched and h:view(1, H) or h):contiguous() end   -- recorded: h itself, in the graph
  return buffer(P, key, {B, H}, dt):copy_(unbatched and h:view(1, H) or h)
end

--- A cell's recorded forward: the recurrent node with T = 1 (src/gd.h,
-- GD_AG_NN_RNN), h' and c' recorded views of its flat output.
local function cell_forward_recorded(self, name, xs, h0, c0, B, unbatched)
  local lstm = self.mode == "LSTM"
  local H = self.hidden_size
  h0 = cell_state(name, "h", h0, B, H, unbatched)
  if lstm then c0 = cell_state(name, "c", c0, B, H, unbatched) end
  local mode = MODES[self.mode]
  local ws_n = ffi.new("int64_t[2]")
  if C.gd_nn_rnn_workspace(ws_n, ws_n + 1, mode, 1, B, H, 0) ~= 0 then fail(name, 3) end
  local nh, nws = B * H, tonumber(ws_n[0])
  local nc = lstm and nh or 0
  flat_n[0] = 2 * nh + nc + nws
  -- (xs.c read at each use: xs is the caller's temporary view, and a pointer
  -- cached before the 7 views below would outlive the handle in a compiled
  -- trace, past the grace of the newest tensors once they are large)
  local flat = base.fresh(1, flat_n, xs.c)
  local yv, hv = flat:narrow(1, 1, nh):view(1, B, H), flat:narrow(1, nh + 1, nh):view(B, H)
  local cv = lstm and flat:narrow(1, 2 * nh + 1, nc):view(B, H) or nil
  local wsv = flat:narrow(1, 2 * nh + nc + 1, nws)
  local b_ih, b_hh = self.bias_ih, self.bias_hh
  if C.gd_nn_rnn_forward(yv.c, hv.c, cdata(cv), wsv.c, xs.c, cdata(h0), cdata(c0), self.weight_ih.c,
                         self.weight_hh.c, cdata(b_ih), cdata(b_hh), nil, mode, 0) ~= 0 then
    fail(name, 3)
  end
  rec_in[0], rec_in[1], rec_in[2], rec_in[3] = xs.c, self.weight_ih.c, self.weight_hh.c, cdata(h0)
  rec_in[4], rec_in[5], rec_in[6] = cdata(c0), cdata(b_ih), cdata(b_hh)
  rec_ip[0], rec_ip[1], rec_ip[2], rec_ip[3], rec_ip[4], rec_ip[5] = 1, B, H, H, mode, 0
  rec_ip[6], rec_ip[7] = 0, 0   -- no projection, no clip (0.0's bits)
  local st = C.gd_autograd_record_nn(flat.c, C.GD_AG_NN_RNN, rec_in, 7, flat.c, rec_ip, 8)
  for j = 0, 6 do rec_in[j] = nil end
  if st ~= 0 then fail(name, 3) end
  priv[self].x = nil   -- (m:backward() after a recorded call: "called before forward")
  local h = flat:narrow(1, 1, nh):view(unbatched and {H} or {B, H})
  if lstm then return h, flat:narrow(1, 2 * nh + 1, nc):view(unbatched and {H} or {B, H}) end
  return h
end

local function cell_forward(self, x, h0, c0)
  local name = self.__class
  local P = priv[self]
  if not gd.is_tensor(x) then base.argerr(name, "the input must be a tensor, got " .. type(x), 2) end
  P.device = x.c.device_kind   -- every buffer lives on the input's device
  local lstm = self.mode == "LSTM"
  if lstm and type(h0) == "table" and not gd.is_tensor(h0) then h0, c0 = h0[1], h0[2] end
  if not lstm and c0 ~= nil then base.argerr(name, "takes no cell state (only LSTMCell does)", 2) end
  local s = x.shape
  local unbatched = #s == 1
  if #s ~= 2 and not unbatched then
    base.argerr(name, fmt("the input must be 2-D (batch x features) or 1-D (unbatched), got shape %s", shape_str(s)), 2)
  end
  local B, H = unbatched and 1 or s[1], self.hidden_size
  if B < 1 then base.argerr(name, "the input is empty (shape " .. shape_str(s) .. ")", 2) end
  local xs = x.c.is_contiguous ~= 0 and x or x:contiguous()
  xs = xs:view(1, B, s[#s])
  local dt = xs.c.scalar_type
  if recording(self, x, h0, c0) then return cell_forward_recorded(self, name, xs, h0, c0, B, unbatched) end
  h0 = cell_state(name, "h", h0, B, H, unbatched, P, "h0_copy", dt)
  if lstm then c0 = cell_state(name, "c", c0, B, H, unbatched, P, "c0_copy", dt) end
  local mode = MODES[self.mode]
  local ws_n = ffi.new("int64_t[2]")
  if C.gd_nn_rnn_workspace(ws_n, ws_n + 1, mode, 1, B, H, 0) ~= 0 then fail(name, 2) end
  local ws = buffer(P, "ws", {tonumber(ws_n[0])}, dt)
  local y = buffer(P, "y", {1, B, H}, dt)
  local cn = lstm and buffer(P, "cn", {B, H}, dt) or nil
  local b_ih, b_hh = self.bias_ih, self.bias_hh
  if C.gd_nn_rnn_forward(y.c, nil, cn and cn.c or nil, ws.c, xs.c, cdata(h0), cdata(c0), self.weight_ih.c,
                         self.weight_hh.c, cdata(b_ih), cdata(b_hh), nil, mode, 0) ~= 0 then
    fail(name, 2)
  end
  P.x, P.y, P.h0, P.c0, P.B, P.unbatched, P.ws_bwd = xs, y, h0, c0, B, unbatched, tonumber(ws_n[1])
  local h = unbatched and y:view(H) or y:view(B, H)
  if lstm then return h, unbatched and cn:view(H) or cn end
  return h
end

local function cell_backward(self, grad_h, grad_c)
  local name = self.__class .. ":backward"
  local P = priv[self]
  if P.x == nil then base.argerr(name, "called before forward", 2) end
  local lstm = self.mode == "LSTM"
  local B, H, dt = P.B, self.hidden_size, P.x.c.scalar_type
  local gy = cell_state(name, "grad_h", grad_h, B, H, P.unbatched, P, "gy", dt)
  local gcn = nil
  if lstm then gcn = cell_state(name, "grad_c", grad_c, B, H, P.unbatched, P, "gcn", dt)
  elseif grad_c ~= nil then base.argerr(name, "takes no cell state gradient (only LSTMCell has one)", 2) end
  local gx = buffer(P, "gx", {1, B, self.input_size}, dt)
  local gh0 = buffer(P, "gh0", {B, H}, dt)
  local gc0 = lstm and buffer(P, "gc0", {B, H}, dt) or nil
  local bws = buffer(P, "bws", {P.ws_bwd}, dt)
  local b_ih, b_hh = self.bias_ih, self.bias_hh
  local gyv = gy and gy:view(1, B, H) or nil   -- (a local: a view's pointer must not outlive its handle)
  if C.gd_nn_rnn_backward(gx.c, gh0.c, gc0 and gc0.c or nil, self.weight_ih.grad.c, self.weight_hh.grad.c,
                          b_ih and b_ih.grad.c or nil, b_hh and b_hh.grad.c or nil, nil, bws.c,
                          cdata(gyv), nil, cdata(gcn), P.ws.c, P.x.c, P.y.c, cdata(P.h0),
                          cdata(P.c0), self.weight_ih.c, self.weight_hh.c, nil, MODES[self.mode], 0, 0, 0) ~= 0 then
    fail(name, 2)
  end
  if P.unbatched then
    gx, gh0 = gx:view(self.input_size), gh0:view(H)
    if gc0 then gc0 = gc0:view(H) end
  else
    gx = gx:view(B, self.input_size)
  end
  if lstm then return gx, gh0, gc0 end
  return gx, gh0
end

local function cell_describe(self)
  local extra = ""
  if self.mode == "RNN_RELU" then extra = extra .. ", nonlinearity = 'relu'" end
  if not self.bias then extra = extra .. ", bias = false" end
  return fmt("%s(%d, %d%s)", self.__class, self.input_size, self.hidden_size, extra)
end

local function define_cell(cls, base_mode, allowed, text)
  local K = new_class(cls, Module)
  M[cls] = K
  function K:init(input_size, hidden_size, opts)
    cell_init(self, base_mode, "gd.nn." .. cls, input_size, hidden_size, opts, allowed)
  end
  K.forward = cell_forward
  K.backward = cell_backward
  K.describe = cell_describe
  doc(K, "gd.nn." .. cls, text)
end

define_cell("RNNCell", "RNN", RNN_CELL_OPTS, [[
gd.nn.RNNCell(input_size, hidden_size, [{bias = true, nonlinearity = "tanh",
  dtype, device}])
  One step of gd.nn.RNN (torch.nn.RNNCell): h' = cell(x, [h]) for x batch x
  input_size (or input_size) and h batch x hidden_size (zeros when not given);
  gx, gh = cell:backward(grad_h).  Parameters weight_ih, weight_hh, bias_ih,
  bias_hh, U(+-1/sqrt(hidden_size)).]])
define_cell("LSTMCell", "LSTM", CELL_OPTS, [[
gd.nn.LSTMCell(input_size, hidden_size, [{bias = true, dtype, device}])
  One step of gd.nn.LSTM (torch.nn.LSTMCell): h', c' = cell(x, [h, c]) (also
  cell(x, {h, c})); gx, gh, gc = cell:backward(grad_h, [grad_c]).  Gates i, f,
  g, o in weight_ih (4*hidden x input) and weight_hh (4*hidden x hidden).]])
define_cell("GRUCell", "GRU", CELL_OPTS, [[
gd.nn.GRUCell(input_size, hidden_size, [{bias = true, dtype, device}])
  One step of gd.nn.GRU (torch.nn.GRUCell): h' = cell(x, [h]);
  gx, gh = cell:backward(grad_h).  Gates r, z, n (3*hidden rows).]])

return M

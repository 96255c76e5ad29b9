-- The misuse spec (issue 10): table-driven wrong calls across the whole Lua
-- API (constructors, element access, views, arithmetic, reductions, matmul,
-- save/load, optim, nn layers and losses, data, train, log, plot, experiment,
-- objectives).  Each case is {function name, problem, call}: the call must
-- raise a Lua error whose message names the function and says the problem,
-- positioned at the caller (no "lua/gd/x.lua:N:" of gd's own files), and the
-- process must go on: after every case, gd still computes.
--
-- What it catches: an error from inside gd (an FFI conversion such as
-- "cannot convert 'string' to 'int64_t'", "attempt to index local 't'", a
-- stack overflow), a message naming another function (gd.stack failing as
-- gd.cat), a bad call that silently succeeds, or one that kills the process.
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn
local ffi = require "ffi"
local NULL = ffi.cast("void *", nil)
local t23 = function() return gd.zeros(2, 3) end
local i64 = function(v) return gd.tensor(v, {dtype = "int64"}) end
local TMP = os.tmpname()
local function lin_fwd() local l = nn.Linear(3, 2); l(gd.zeros(2, 3)); return l end

local cases = {
  -- constructors
  {"gd.zeros", "size -1 of dimension 1 is not a whole", function() local _ = gd.zeros(-1) end},
  {"gd.zeros", "size 2.5 of dimension 1 is not a whole", function() local _ = gd.zeros(2.5) end},
  {"gd.zeros", "argument 1 must be a size (a number) or the", function() local _ = gd.zeros("a") end},
  {"gd.zeros", "unknown dtype 'float16' (did you mean", function() local _ = gd.zeros(2, {dtype = "float16"}) end},
  {"gd.zeros", "unknown option 'dtyp' (did you mean", function() local _ = gd.zeros(2, {dtyp = "float32"}) end},
  {"gd.zeros", "unknown device 'tpu' (did you mean 'cpu'?);", function() local _ = gd.zeros(2, {device = "tpu"}) end},
  {"gd.zeros", "size nan of dimension 1 is not a whole", function() local _ = gd.zeros(0/0) end},
  {"gd.zeros", "9 dimensions requested, at most 8 are", function() local _ = gd.zeros(1, 2, 3, 4, 5, 6, 7, 8, 9) end},
  {"gd.ones", "argument 1 must be a size (a number) or the", function() local _ = gd.ones(true) end},
  {"gd.empty", "size 4.6116860184274e+18 of dimension 1 is", function() local _ = gd.empty(2^62, 2^62) end},
  {"gd.full", "the fill value must be a number, got string", function() local _ = gd.full({2}, "a") end},
  {"gd.full", "the fill value must be a number, got nil", function() local _ = gd.full({2}) end},
  {"gd.full", "value 1.5 is not an integer, and the tensor", function() local _ = gd.full({2}, 1.5, {dtype = "int64"}) end},
  {"gd.tensor", "element 1 is a string, not a number", function() local _ = gd.tensor({"a"}) end},
  {"gd.tensor", "row 2 has 1 elements, but the first row at", function() local _ = gd.tensor({{1, 2}, {3}}) end},
  {"gd.tensor", "value 1.5 is not an integer, and the tensor", function() local _ = gd.tensor({1.5}, {dtype = "int64"}) end},
  {"gd.tensor", "value 1.1805916207174e+21 does not fit in", function() local _ = gd.tensor({2^70}, {dtype = "int64"}) end},
  {"gd.tensor", "data must be a number, a (nested) table of", function() local _ = gd.tensor(print) end},
  {"gd.tensor", "unknown option 'shape'; valid options:", function() local _ = gd.tensor({1}, {shape = 2}) end},
  {"gd.arange", "end must be a number, got string", function() local _ = gd.arange("a") end},
  {"gd.arange", "step must not be 0", function() local _ = gd.arange(0, 10, 0) end},
  {"gd.arange", "end must be finite, got inf", function() local _ = gd.arange(0, 1/0) end},
  {"gd.linspace", "steps must be >= 0, got -2", function() local _ = gd.linspace(0, 1, -2) end},
  {"gd.linspace", "steps must be a number, got string", function() local _ = gd.linspace(0, 1, "a") end},
  {"gd.rand", "dtype int64 is not supported (random", function() local _ = gd.rand(2, {dtype = "int64"}) end},
  {"gd.randn", "size -2 of dimension 1 is not a whole", function() local _ = gd.randn(-2) end},
  {"gd.manual_seed", "seed must be >= 0, got -1", function() local _ = gd.manual_seed(-1) end},
  {"gd.manual_seed", "seed must be an integer, got 1.5", function() local _ = gd.manual_seed(1.5) end},
  {"gd.manual_seed", "seed must be a number, got string", function() local _ = gd.manual_seed("a") end},
  -- element access
  {"get", "index 3 out of range for dimension 1 of", function() local _ = t23():get(3, 1) end},
  {"get", "1 indices given for a 2-dimensional tensor", function() local _ = t23():get(1) end},
  {"get", "index 'a' for dimension 1 is not an integer", function() local _ = t23():get("a", 1) end},
  {"set", "the value must be a number, got string", function() local _ = t23():set(1, 1, "x") end},
  {"set", "index 9 out of range for dimension 2 of", function() local _ = t23():set(1, 9, 1) end},
  {"item", "the tensor has 6 elements; item() needs", function() local _ = t23():item() end},
  {"size", "dimension 3 out of range (the tensor has 2", function() local _ = t23():size(3) end},
  {"size", "dimension must be an integer, got 'a'", function() local _ = t23():size("a") end},
  {"numel", "expects a tensor as self, got number (call", function() local _ = gd.Tensor.numel(5) end},
  {"dim", "expects a tensor as self, got table (call", function() local _ = gd.Tensor.dim({}) end},
  {"tostring", "expects a tensor as self, got number (call", function() local _ = gd.Tensor.tostring(5) end},
  -- views
  {"view", "cannot make a tensor of shape 2x3 (6", function() local _ = t23():view(4, 2) end},
  {"view", "only one dimension can be -1", function() local _ = t23():view(-1, -1) end},
  {"view", "the tensor's strides do not allow this", function() local _ = t23():t():view(6) end},
  {"view", "size 1 must be a number, got 'a'", function() local _ = t23():view("a") end},
  {"reshape", "cannot make a tensor of shape 2x3 (6", function() local _ = t23():reshape(7) end},
  {"narrow", "elements 2 to 6 are out of range for", function() local _ = t23():narrow(1, 2, 5) end},
  {"narrow", "dimension 3 out of range (the tensor has 2", function() local _ = t23():narrow(3, 1, 1) end},
  {"narrow", "start must be a number, got string", function() local _ = t23():narrow(1, "a", 1) end},
  {"select", "index 3 out of range for dimension 1 of", function() local _ = t23():select(1, 3) end},
  {"select", "dimension must be an integer, got 'a'", function() local _ = t23():select("a", 1) end},
  {"transpose", "dimension 3 out of range (the tensor has 2", function() local _ = t23():transpose(1, 3) end},
  {"transpose", "dimension must be an integer, got 'a'", function() local _ = t23():transpose("a", 1) end},
  {"permute", "1 dimensions given for a tensor with 2", function() local _ = t23():permute(1) end},
  {"permute", "dimension 1 appears twice", function() local _ = t23():permute(1, 1) end},
  {"expand", "shape 2x3 cannot be broadcast to 3x3", function() local _ = t23():expand(3, 3) end},
  {"squeeze", "dimension 3 out of range (the tensor has 2", function() local _ = t23():squeeze(3) end},
  {"unsqueeze", "dimension 5 out of range (the tensor has 2", function() local _ = t23():unsqueeze(5) end},
  {"to", "unknown dtype or device 'float16' (did you", function() local _ = t23():to("float16") end},
  {"to", "expects a dtype, a device, an options table", function() local _ = t23():to(5) end},
  {"index_select", "index 3 out of range for dimension 1 of", function() local _ = t23():index_select(1, {3}) end},
  {"index_select", "element 1 is a string, not a number", function() local _ = t23():index_select(1, {"a"}) end},
  {"index_select", "dimension 3 out of range (the tensor has 2", function() local _ = t23():index_select(3, {1}) end},
  {"set_", "argument 1 (source) must be a tensor, got", function() local _ = t23():set_(5) end},
  {"set_", "the view reaches beyond the storage's 2", function() local _ = t23():set_(gd.zeros(2), 1, {3, 3}) end},
  {"gd.cat", "expects a non-empty table of tensors", function() local _ = gd.cat({}) end},
  {"gd.cat", "tensor 2 has shape 2x4, which does not fit", function() local _ = gd.cat({t23(), gd.zeros(2, 4)}, 1) end},
  {"gd.cat", "element 2 must be a tensor, got string", function() local _ = gd.cat({t23(), "a"}) end},
  {"gd.stack", "tensor 2 has shape 3x2 but tensor 1 has 2x3", function() local _ = gd.stack({t23(), gd.zeros(3, 2)}) end},
  {"gd.stack", "expects a non-empty table of tensors", function() local _ = gd.stack("a") end},
  -- arithmetic
  {"add", "operand must be a tensor, a number or a", function() local _ = t23():add("a") end},
  {"+", "shapes 2x3 and 3x2 cannot be broadcast", function() local _ = t23() + gd.zeros(3, 2) end},
  {"add", "alpha must be a number, got string", function() local _ = t23():add(gd.zeros(2, 3), "x") end},
  {"sub", "shapes 2x3 and 4 cannot be broadcast", function() local _ = t23():sub(gd.zeros(4)) end},
  {"mul", "shapes 2x3 and 2 cannot be broadcast", function() local _ = t23():mul({1, 2}) end},
  {"div", "operand must be a tensor, a number or a", function() local _ = t23():div(true) end},
  {"pow", "operand must be a tensor, a number or a", function() local _ = t23():pow("a") end},
  {"add_", "the result would be float, which cannot be", function() local _ = gd.zeros(2, {dtype = "int64"}):add_(gd.ones(2)) end},
  {"add_", "shape 2x3 cannot be broadcast to 1x3", function() local _ = gd.zeros(1, 3):add_(gd.zeros(2, 3)) end},
  {"mul_", "operand must be a tensor, a number or a", function() local _ = t23():mul_(nil) end},
  {"div_", "shape 5 cannot be broadcast to 2x3", function() local _ = t23():div_(gd.zeros(5)) end},
  {"copy_", "shape 4 cannot be broadcast to 2x3", function() local _ = t23():copy_(gd.zeros(4)) end},
  {"copy_", "source must be a tensor or a table, got", function() local _ = t23():copy_("a") end},
  {"fill_", "value must be a number, got string", function() local _ = t23():fill_("a") end},
  {"fill_", "value 1.5 is not an integer, and the tensor", function() local _ = gd.zeros(2, {dtype = "int64"}):fill_(1.5) end},
  {"clamp", "min must be a number, got string", function() local _ = t23():clamp("a", 1) end},
  {"clamp", "min 2 is greater than max 1", function() local _ = t23():clamp(2, 1) end},
  {"clamp_", "min is NaN", function() local _ = t23():clamp_(0/0, 1) end},
  {"addcmul_", "shape 4 cannot be broadcast to 2x3", function() local _ = t23():addcmul_(gd.zeros(2, 3), gd.zeros(4)) end},
  {"addcdiv_", "operand must be a tensor, a number or a", function() local _ = t23():addcdiv_(gd.zeros(2, 3), "a") end},
  {"remainder", "integer modulo by zero", function() local _ = i64({1, 2}):remainder(0) end},
  {"uniform_", "low 1 is greater than high 0", function() local _ = gd.zeros(2):uniform_(1, 0) end},
  {"uniform_", "an int64 tensor draws whole numbers in", function() local _ = gd.zeros(2, {dtype = "int64"}):uniform_() end},
  {"normal_", "std must be >= 0, got -1", function() local _ = gd.zeros(2):normal_(0, -1) end},
  {"normal_", "int64 tensors cannot hold normal numbers", function() local _ = gd.zeros(2, {dtype = "int64"}):normal_() end},
  {"gd.where", "shapes 3 and 4 cannot be broadcast", function() local _ = gd.where(gd.zeros(2), gd.zeros(3), gd.zeros(4)) end},
  {"gd.allclose", "rtol must be >= 0, got -1", function() local _ = gd.allclose(t23(), t23(), -1) end},
  {"gd.allclose", "argument 1 must be a tensor, got string", function() local _ = gd.allclose("a", t23()) end},
  -- reductions
  {"sum", "dimension 3 out of range (the tensor has 2", function() local _ = t23():sum(3) end},
  {"sum", "dimension must be an integer, got 'a'", function() local _ = t23():sum("a") end},
  {"max", "max of an empty tensor", function() local _ = gd.zeros(0):max() end},
  {"min", "dimension 0 out of range (the tensor has 2", function() local _ = t23():min(0) end},
  {"argmax", "dimension 4 out of range (the tensor has 2", function() local _ = t23():argmax(4) end},
  {"norm", "p must be a number, got string", function() local _ = t23():norm("a") end},
  {"std", "dimension 9 out of range (the tensor has 2", function() local _ = t23():std(9) end},
  -- matmul
  {"gd.matmul", "shapes 2x3 and 2x3 do not match (3 columns", function() local _ = gd.matmul(t23(), t23()) end},
  {"gd.matmul", "argument 2 must be a tensor, got string", function() local _ = gd.matmul(t23(), "a") end},
  {"matmul", "shapes 2x3 and 4x2 do not match (3 columns", function() local _ = t23():matmul(gd.zeros(4, 2)) end},
  {"matmul", "shapes 2 and 3 do not match (2 columns", function() local _ = gd.zeros(2):matmul(gd.zeros(3)) end},
  -- save / load
  {"gd.save", "argument 1 (path) must be a string, got", function() local _ = gd.save(5, t23()) end},
  {"gd.save", "cannot save a function (at the root);", function() local _ = gd.save(TMP, print) end},
  {"gd.save", "cannot write '/nonexistent-dir/x.t7': No", function() local _ = gd.save("/nonexistent-dir/x.t7", t23()) end},
  {"gd.save", "the table at the root.r contains itself (a", function() local r = {}; r.r = r; local _ = gd.save(TMP, r) end},
  {"gd.load", "cannot read '/nonexistent-dir/x.t7': No", function() local _ = gd.load("/nonexistent-dir/x.t7") end},
  {"gd.load", "argument 1 (path) must be a string, got", function() local _ = gd.load(5) end},
  {"gd.load", "is corrupt or not a gdlua file: no gdlua", function() local f = io.open(TMP, "wb"); f:write("garbage"); f:close(); local _ = gd.load(TMP) end},
  -- optim
  {"gd.optim.SGD", "lr must be a finite number >= 0, got -1", function() local _ = gd.optim.SGD({gd.zeros(2)}, {lr = -1}) end},
  {"gd.optim.SGD", "lr must be a number, got string", function() local _ = gd.optim.SGD({gd.zeros(2)}, {lr = "a"}) end},
  {"gd.optim.SGD", "unknown hyperparameter 'lrr' (did you mean", function() local _ = gd.optim.SGD({gd.zeros(2)}, {lrr = 0.1}) end},
  {"gd.optim.SGD", "params[1] is a number, not a tensor", function() local _ = gd.optim.SGD({5}, {lr = 0.1}) end},
  {"gd.optim.Adam", "betas[1] = 2 is outside [0, 1)", function() local _ = gd.optim.Adam({gd.zeros(2)}, {betas = {2, 0.9}}) end},
  {"gd.optim.Adam", "eps must be >= 0, got -1", function() local _ = gd.optim.Adam({gd.zeros(2)}, {eps = -1}) end},
  {"gd.optim.RMSProp", "alpha must be in [0, 1), got 1.5", function() local _ = gd.optim.RMSProp({gd.zeros(2)}, {alpha = 1.5}) end},
  {"gd.optim.RMSProp", "unknown flavor 'nope'; valid flavors:", function() local _ = gd.optim.RMSProp({gd.zeros(2)}, {flavor = "nope"}) end},
  {"gd.optim.AdaGrad", "lr is NaN", function() local _ = gd.optim.AdaGrad({gd.zeros(2)}, {lr = 0/0}) end},
  {"gd.optim.AdaDelta", "rho must be in [0, 1), got 2", function() local _ = gd.optim.AdaDelta({gd.zeros(2)}, {rho = 2}) end},
  {"gd.optim.SGD", "momentum must be >= 0, got -1", function() local _ = gd.optim.SGD({gd.zeros(2)}, {lr = 0.1, momentum = -1}) end},
  {"gd.optim.SGD", "parameter 1 has dtype int64; optimizers", function() local _ = gd.optim.SGD({gd.zeros(2, {dtype = "int64"})}, {lr = 0.1}) end},
  {"step", "the closure must be a function, got number", function()
    local o = gd.optim.SGD({gd.zeros(2)}, {lr = 0.1}); o:step(5) end},
  {"loader", "batch_size must be <= 9.007", function()
    local _ = gd.data.loader({gd.zeros(4, 2)}, {batch_size = 2 ^ 70}) end},
  {"load_state_dict", "expects a table with state and param_groups", function() local o = gd.optim.SGD({gd.zeros(2)}, {lr = 0.1}); local _ = o:load_state_dict(5) end},
  {"clip_grad_norm_", "max_norm must be >= 0, got -1", function() local _ = gd.optim.clip_grad_norm_({gd.zeros(2)}, -1) end},
  -- nn layers
  {"gd.nn.Linear", "in_features must be >= 1, got 0", function() local _ = nn.Linear(0, 2) end},
  {"gd.nn.Linear", "in_features must be a number, got string", function() local _ = nn.Linear("a", 2) end},
  {"gd.nn.Linear", "out_features must be an integer, got 2.5", function() local _ = nn.Linear(2, 2.5) end},
  {"gd.nn.Linear", "unknown option 'bais' (did you mean", function() local _ = nn.Linear(2, 2, {bais = false}) end},
  {"gd.nn.Linear", "in_features must be <= 2147483647", function() local _ = nn.Linear(2 ^ 60, 2) end},
  {"gd.nn.Linear", "dtype must be float32 or float64, got int64", function()
    local _ = nn.Linear(2, 2, {dtype = "int64"}) end},
  {"gd.nn.Linear", "unknown device 'tpu'", function() local _ = nn.Linear(2, 2, {device = "tpu"}) end},
  {"gd.nn.Linear", "too many elements", function() local _ = nn.Linear(2 ^ 30, 2 ^ 30) end},
  {"Linear", "the input has 4 features but the layer", function() local _ = nn.Linear(3, 2)(gd.zeros(2, 4)) end},
  {"Linear", "the input must be a tensor, got string", function() local _ = nn.Linear(3, 2)("a") end},
  {"Linear", "the input must be 1-D or 2-D (rows x 3", function() local _ = nn.Linear(3, 2)(gd.zeros(2, 3, 4)) end},
  {"Linear", "dtypes differ (input float64, weight", function() local _ = nn.Linear(3, 2)(gd.zeros(2, 3, {dtype = "float64"})) end},
  {"Linear:backward", "called before forward", function() local _ = nn.Linear(3, 2):backward(gd.zeros(2, 2)) end},
  {"Linear:backward", "the output gradient has shape 5x5, expected", function() local _ = lin_fwd():backward(gd.zeros(5, 5)) end},
  {"Linear:backward", "the output gradient must be a tensor, got", function() local _ = lin_fwd():backward("a") end},
  {"gd.nn.Sequential", "expects a table of modules, got number", function() local _ = nn.Sequential(5) end},
  {"gd.nn.Sequential", "element 1 is not a module (number)", function() local _ = nn.Sequential({5}) end},
  {"gd.nn.Sequential", "expects a table of modules, got cdata", function() local _ = nn.Sequential(NULL) end},
  {"Sequential:add", "expected a module, got string", function() local _ = nn.Sequential{}:add("a") end},
  {"Sequential:add", "a module cannot contain itself", function() local s = nn.Sequential{}; local _ = s:add(s) end},
  {"Sequential:add", "the module contains this Sequential already", function() local s = nn.Sequential{}; local _ = s:add(nn.Sequential{s}) end},
  {"ReLU", "the input must be a tensor, got number", function() local _ = nn.ReLU()(5) end},
  {"Tanh", "the input must be float32 or float64, got", function() local _ = nn.Tanh()(gd.zeros(2, {dtype = "int64"})) end},
  {"Sigmoid:backward", "called before forward", function() local _ = nn.Sigmoid():backward(gd.zeros(2)) end},
  {"ReLU:backward", "the output gradient has shape 3 but the", function() local r = nn.ReLU(); r(gd.zeros(2)); local _ = r:backward(gd.zeros(3)) end},
  {"Softmax", "dim 3 is out of range for a 2-D input", function() local _ = nn.Softmax(3)(gd.zeros(2, 2)) end},
  {"gd.nn.Softmax", "dim must be a number, got string", function() local _ = nn.Softmax("a") end},
  {"gd.nn.LogSoftmax", "dim is 1-based (1, 2, ... or -1 for the", function() local _ = nn.LogSoftmax(0) end},
  {"gd.nn.Dropout", "p = 2 is not a probability in [0, 1]", function() local _ = nn.Dropout(2) end},
  {"gd.nn.Dropout", "p must be a number, got string", function() local _ = nn.Dropout("a") end},
  {"Dropout", "the input must be a tensor, got table", function() local _ = nn.Dropout(0.5)({}) end},
  {"load_state_dict", "expected a table of tensors, got number", function() local _ = nn.Linear(2, 2):load_state_dict(5) end},
  {"load_state_dict", "missing bias", function() local _ = nn.Linear(2, 2):load_state_dict({weight = gd.zeros(2, 2)}) end},
  {"load_state_dict", "'weight' has shape 3x2, the parameter 2x2", function() local _ = nn.Linear(2, 2):load_state_dict({weight = gd.zeros(3, 2), bias = gd.zeros(2)}) end},
  {"to", "unknown dtype or device 'float16'", function() local _ = nn.Linear(2, 2):to("float16") end},
  {"gd.nn.load", "does not hold a module (save one with", function() gd.save(TMP, {1, 2}); local _ = nn.load(TMP) end},
  {"gd.nn.from_table", "unknown module class 'Nope'", function() local _ = nn.from_table({__class = "Nope"}) end},
  {"register_parameter", "the name must be a string", function() local _ = nn.Linear(2, 2):register_parameter(5, gd.zeros(2)) end},
  {"Module:extend", "the class needs a name (a string)", function() local _ = nn.Module:extend(5) end},
  -- losses
  {"gd.nn.MSELoss", "unknown reduction 'avg'; valid reductions:", function() local _ = nn.MSELoss{reduction = "avg"} end},
  {"gd.nn.MSELoss", "scale must be a number, got string", function() local _ = nn.MSELoss{scale = "a"} end},
  {"gd.nn.MSELoss", "scale must be a number, got cdata", function() local _ = nn.MSELoss{scale = NULL} end},
  {"MSELoss", "the prediction has shape 4x1 but the target", function() local _ = nn.MSELoss()(gd.zeros(4, 1), gd.zeros(4)) end},
  {"MSELoss", "the target must be a tensor, got string", function() local _ = nn.MSELoss()(gd.zeros(4), "a") end},
  {"MSELoss", "dtypes differ (input float32, target", function() local _ = nn.MSELoss()(gd.zeros(4), gd.zeros(4, {dtype = "float64"})) end},
  {"MSELoss:backward", "called before forward", function() local _ = nn.MSELoss():backward() end},
  {"gd.nn.CrossEntropyLoss", "unknown reduction '5'; valid reductions:", function() local _ = nn.CrossEntropyLoss{reduction = 5} end},
  {"CrossEntropyLoss", "target 4 (row 2) is not a class in 1..3", function() local _ = nn.CrossEntropyLoss()(t23(), i64({1, 4})) end},
  {"CrossEntropyLoss", "target 0 (row 1) is not a class in 1..3", function() local _ = nn.CrossEntropyLoss()(t23(), i64({0, 1})) end},
  {"CrossEntropyLoss", "the target must hold int64 class indices", function() local _ = nn.CrossEntropyLoss()(t23(), gd.tensor({1, 2})) end},
  {"CrossEntropyLoss", "the target must hold class indices: value", function() local _ = nn.CrossEntropyLoss()(t23(), {1, 1.5}) end},
  {"CrossEntropyLoss", "the input must be rows x classes, got shape", function() local _ = nn.CrossEntropyLoss()(gd.zeros(2, 3, 4), i64({1, 1})) end},
  {"CrossEntropyLoss", "the target has shape 3, expected 2 class", function() local _ = nn.CrossEntropyLoss()(t23(), i64({1, 1, 1})) end},
  {"gd.nn.accuracy", "target 4 (row 2) is not a class in 1..3", function() local _ = nn.accuracy(t23(), i64({1, 4})) end},
  {"gd.nn.accuracy", "the scores must be a tensor", function() local _ = nn.accuracy("a", i64({1})) end},
  {"gd.nn.gradcheck", "argument 1 must be a module or a loss", function() local _ = nn.gradcheck(5, gd.zeros(2)) end},
  -- data
  {"read_csv", "cannot read '/nonexistent-dir/x.csv': No", function() local _ = gd.data.read_csv("/nonexistent-dir/x.csv") end},
  {"read_csv", "the path must be a string, got number", function() local _ = gd.data.read_csv(5) end},
  {"standardize", "expects a tensor, got string", function() local _ = gd.data.standardize("a") end},
  {"split", "cannot split 4 rows at 7 (a row count 0..4", function() local _ = gd.data.split({gd.zeros(4, 2)}, 7) end},
  {"loader", "batch_size must be >= 1, got 0", function() local _ = gd.data.loader({gd.zeros(4, 2)}, {batch_size = 0}) end},
  {"loader", "element 2 has 3 rows, element 1 has 4", function() local _ = gd.data.loader({gd.zeros(4, 2), gd.zeros(3)}, {batch_size = 2}) end},
  {"loader", "expects a tensor or an array of tensors", function() local _ = gd.data.loader("a") end},
  {"synthetic_regression", "n must be >= 1, got -1", function() local _ = gd.data.synthetic_regression({n = -1}) end},
  -- train, log
  {"gd.train", "expects a table {model =, loss =, optimizer", function() local _ = gd.train.run(5) end},
  {"gd.train", "model must be a module", function() local _ = gd.train.run({}) end},
  {"Logger", "the path must be a string, got number", function() local _ = gd.log.Logger(5) end},
  -- plot
  {"gd.plot.line", "expects values or series, got number", function() local _ = gd.plot.line(5) end},
  {"gd.plot.scatter", "expects values or series, got string", function() local _ = gd.plot.scatter("a") end},
  {"gd.plot.contour", "expects a 2-D objective (see gd.objectives)", function() local _ = gd.plot.contour(5) end},
  {"gd.plot.losses", "expects the results of gd.experiment.run", function() local _ = gd.plot.losses(5) end},
  {"gd.plot.term", "expects values or series, got number", function() local _ = gd.plot.term_string(5) end},
  -- experiment
  {"gd.experiment.run", "options must be a table, got number", function() local _ = gd.experiment.run(5) end},
  {"gd.experiment.run", "objective must be a table with f(x) and", function() local _ = gd.experiment.run({objective = "nope"}) end},
  {"gd.experiment.run", "steps must be >= 0, got -1", function()
    local _ = gd.experiment.run({objective = gd.objectives.quadratic, steps = -1,
                                runs = {{name = "sgd", optimizer = "SGD", hyper = {lr = 0.1}}}}) end},
  {"gd.experiment.table", "the header must be an array of strings, got", function() local _ = gd.experiment.table(5) end},
  -- objectives
  {"gd.objectives.quadratic", "x must be a tensor, got number", function() local _ = gd.objectives.quadratic.f(5) end},
  {"gd.objectives.rosenbrock", "x has 3 elements; this objective takes 2", function() local _ = gd.objectives.rosenbrock.grad(gd.zeros(3), gd.zeros(3)) end},
  {"gd.objectives.from_xy", "options must be a table, got number", function() local _ = gd.objectives.from_xy(5) end},
  {"gd.objectives.ill_conditioned", "n must be >= 1, got -1", function() local _ = gd.objectives.ill_conditioned(-1) end},
  {"gd.objectives.least_squares", "X must be a 2-D tensor (examples x features)", function() local _ = gd.objectives.least_squares(5) end},
  -- autograd
  {"grad", "gradient has shape 3 but the tensor has", function() local t = t23(); t.grad = gd.zeros(3) end},
  {"grad", "must be a tensor or nil, got number", function() local t = t23(); t.grad = 5 end},
}

describe("misuse of the Lua API", function()
  it("has at least 150 cases", function()
    assert.is_true(#cases >= 150, #cases .. " cases")
  end)

  for i, case in ipairs(cases) do
    local fname, problem, call = case[1], case[2], case[3]
    it(string.format("%d: %s: %s", i, fname, problem), function()
      local ok, err = pcall(call)
      assert.is_false(ok, "the call succeeded")
      err = tostring(err)
      assert.truthy(err:find(fname, 1, true), "the message does not name " .. fname .. ": " .. err)
      assert.truthy(err:find(problem, 1, true), "the message does not say '" .. problem .. "': " .. err)
      assert.is_nil(err:find("lua/gd/[%w_/]+%.lua:%d+:"), "the message carries a position inside gd: " .. err)
      -- the process goes on, and gd with it
      assert.are.equal(6, (gd.ones(2, 3):sum()))
    end)
  end

  teardown(function() os.remove(TMP) end)
end)

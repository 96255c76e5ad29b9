-- Issue 14's catalogue: every layer, loss and initialiser it lists exists
-- under PyTorch's name and takes PyTorch's keyword arguments (in the options
-- table), so a PyTorch model's definition reads the same.  A renamed class
-- or a keyword missing from a layer's options (which check.options refuses
-- as unknown) fails here.
local gd = rawget(_G, "gd") or require "gd"
local nn = gd.nn

describe("gd.nn's catalogue (issue 14)", function()
  local ctors = {
    {"Conv1d", function() return nn.Conv1d(2, 4, 3, {stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, padding_mode = "zeros"}) end},
    {"Conv2d", function() return nn.Conv2d(2, 4, 3, {stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, padding_mode = "zeros"}) end},
    {"ConvTranspose2d", function() return nn.ConvTranspose2d(2, 4, 3, {stride = 1, padding = 0, output_padding = 0, groups = 1, bias = true, dilation = 1, padding_mode = "zeros"}) end},
    {"MaxPool2d", function() return nn.MaxPool2d(2, {stride = 2, padding = 0, dilation = 1, return_indices = true, ceil_mode = false}) end},
    {"AvgPool2d", function() return nn.AvgPool2d(2, {stride = 2, padding = 0, ceil_mode = false, count_include_pad = true, divisor_override = 2}) end},
    {"AdaptiveAvgPool2d", function() return nn.AdaptiveAvgPool2d({2, 3}) end},
    {"Flatten", function() return nn.Flatten(2, -1) end},
    {"Identity", function() return nn.Identity() end},
    {"BatchNorm1d", function() return nn.BatchNorm1d(3, {eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true}) end},
    {"BatchNorm2d", function() return nn.BatchNorm2d(3, {eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true}) end},
    {"LayerNorm", function() return nn.LayerNorm({3, 4}, {eps = 1e-5, elementwise_affine = true}) end},
    {"GroupNorm", function() return nn.GroupNorm(1, 3, {eps = 1e-5, affine = true}) end},
    {"Embedding", function() return nn.Embedding(5, 3, {padding_idx = 1, max_norm = 2, norm_type = 2, scale_grad_by_freq = true, sparse = false}) end},
    {"RNN", function() return nn.RNN(3, 4, {num_layers = 1, nonlinearity = "relu", bias = true, batch_first = false, dropout = 0, bidirectional = false}) end},
    {"LSTM", function() return nn.LSTM(3, 4, {num_layers = 2, bias = true, batch_first = true, dropout = 0.1, bidirectional = true, proj_size = 0}) end},
    {"GRU", function() return nn.GRU(3, 4, {num_layers = 2, bias = false, batch_first = true, dropout = 0.1, bidirectional = true}) end},
    {"RNNCell", function() return nn.RNNCell(3, 4, {bias = true, nonlinearity = "tanh"}) end},
    {"LSTMCell", function() return nn.LSTMCell(3, 4, {bias = true}) end},
    {"GRUCell", function() return nn.GRUCell(3, 4, {bias = false}) end},
    {"NLLLoss", function() return nn.NLLLoss{weight = gd.ones(3), ignore_index = -100, reduction = "sum"} end},
    {"CrossEntropyLoss", function() return nn.CrossEntropyLoss{weight = gd.ones(3), ignore_index = -100, reduction = "sum", label_smoothing = 0.1} end},
    {"BCELoss", function() return nn.BCELoss{reduction = "sum", weight = gd.ones(3)} end},
    {"BCEWithLogitsLoss", function() return nn.BCEWithLogitsLoss{reduction = "sum", weight = gd.ones(3), pos_weight = gd.ones(3)} end},
    {"L1Loss", function() return nn.L1Loss{reduction = "sum"} end},
    {"SmoothL1Loss", function() return nn.SmoothL1Loss{reduction = "sum", beta = 0.5} end},
    {"HuberLoss", function() return nn.HuberLoss{reduction = "sum", delta = 0.5} end},
    {"KLDivLoss", function() return nn.KLDivLoss{reduction = "batchmean", log_target = true} end},
  }
  for _, c in ipairs(ctors) do
    it(c[1] .. " takes PyTorch's options", function()
      local m = c[2]()
      assert.equal(c[1], m.__class)
    end)
  end

  it("the recurrent layers' parameters are PyTorch's state_dict keys", function()
    local keys = {}
    for k in pairs(nn.GRU(3, 4, {num_layers = 2, bidirectional = true}):state_dict()) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({"bias_hh_l0", "bias_hh_l0_reverse", "bias_hh_l1", "bias_hh_l1_reverse", "bias_ih_l0",
                 "bias_ih_l0_reverse", "bias_ih_l1", "bias_ih_l1_reverse", "weight_hh_l0", "weight_hh_l0_reverse",
                 "weight_hh_l1", "weight_hh_l1_reverse", "weight_ih_l0", "weight_ih_l0_reverse", "weight_ih_l1",
                 "weight_ih_l1_reverse"}, keys)
  end)

  it("BCE's weight and pos_weight: finite differences, and a shape that does not broadcast is named", function()
    gd.manual_seed(8)
    local x, t = gd.randn(4, 3), gd.rand(4, 3)
    local m = nn.BCEWithLogitsLoss{pos_weight = gd.tensor({0.5, 2, 3}), weight = gd.tensor({{1}, {2}, {0.5}, {1}})}
    assert.is_true(nn.gradcheck(m, x, t))
    assert.has_error(function() nn.BCEWithLogitsLoss{pos_weight = gd.ones(4)}(x, t) end,
      "BCEWithLogitsLoss: pos_weight of shape 4 does not broadcast to the input's 4x3")
    assert.has_error(function() nn.BCELoss{weight = 2} end, "gd.nn.BCELoss: weight must be a tensor, got number")
  end)

  it("gd.nn.init has torch.nn.init's initialisers", function()
    for _, n in ipairs({"uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                        "kaiming_normal_", "orthogonal_", "zeros_", "ones_", "constant_", "calculate_gain"}) do
      assert.is_function(nn.init[n], n)
    end
  end)
end)

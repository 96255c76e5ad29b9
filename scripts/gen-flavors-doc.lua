-- gen-flavors-doc.lua: writes docs/flavors.md from the registry
-- (gd.optim.flavors): per system, its update in its own notation, its names
-- (-> gdlua's canonical names), the PyTorch names it also takes, its defaults,
-- the switches it fixes, and its source.  `make docs` runs it; returns the text
-- when loaded with dofile (spec/flavors_spec.lua checks the committed file).
local gd = require "gd"

local function sorted_keys(t)
  local r = {}
  for k in pairs(t) do r[#r + 1] = k end
  table.sort(r)
  return r
end

local function show(v)
  if type(v) == "table" then return "{" .. table.concat(v, ", ") .. "}" end
  if type(v) == "string" then return '"' .. v .. '"' end
  return tostring(v)
end

-- which golden files replay each flavor (spec/golden, written by scripts/golden)
local golden = require "spec.support.golden"
local evidence = {}
for _, system in ipairs(golden.systems) do
  for _, case in ipairs(golden.load(system).cases) do
    local key = case.optimizer .. "/" .. case.flavor
    evidence[key] = evidence[key] or {}
    local e = evidence[key]
    if e[#e] and e[#e].system == system then e[#e].n = e[#e].n + 1 else e[#e + 1] = {system = system, n = 1} end
  end
end

local out = {}
local function w(s) out[#out + 1] = s or "" end

w("# Optimizer flavors")
w()
w("Generated from `gd.optim.flavors` (lua/gd/optim/flavors.lua) by `make docs`; do not edit.")
w()
w("`hyper.flavor` picks whose convention and names apply.  The math is one update with switches")
w("(src/kernels/optim.h); a flavor maps its system's names onto gdlua's canonical (PyTorch) names,")
w("sets its defaults and fixes the switches its system does not let change.  PyTorch's names are")
w("accepted for whatever a flavor has; where a system's own name is spelled like a PyTorch name but")
w("means something else, the system's meaning wins (listed under *clash*).  Without `flavor`, only")
w("PuzzleLib's names are recognised (`RMSProp{learnRate = ..., factor = ...}`); `opt.hyper.flavor` and")
w("`tostring(opt)` show the flavor in use.  Each flavor is replayed against a trajectory written from")
w("its system's own code: scripts/golden/, spec/golden/, spec/flavors_spec.lua.")

for _, name in ipairs {"RMSProp", "AdaGrad", "SMORMS3"} do
  local reg = gd.optim.flavors(name)
  local order = sorted_keys(reg)
  for i, fl in ipairs(order) do if fl == "pytorch" then table.remove(order, i); table.insert(order, 1, fl) end end
  w()
  w("## " .. name)
  for _, fl in ipairs(order) do
    local r = reg[fl]
    w()
    w("### " .. name .. ' flavor = "' .. fl .. '"')
    w()
    w("Source: " .. r.source .. ".")
    w()
    w("```")
    w(r.update)
    w("```")
    w()
    w("| name | canonical | default |")
    w("|---|---|---|")
    for _, k in ipairs(sorted_keys(r.names)) do
      local canon = r.names[k]
      local d = r.defaults[canon]
      w(string.format("| `%s` | %s | %s |", k, canon, d == nil and "required" or show(d)))
    end
    local pt = sorted_keys(r.pytorch_names)
    if #pt > 0 then
      local parts = {}
      for _, k in ipairs(pt) do
        parts[#parts + 1] = r.pytorch_names[k] == k and "`" .. k .. "`" or ("`" .. k .. "` (" .. r.pytorch_names[k] .. ")")
      end
      w()
      w("PyTorch's names also taken: " .. table.concat(parts, ", ") .. ".")
    end
    for _, k in ipairs(sorted_keys(r.clashes)) do
      w()
      w(string.format("Clash: `%s` is this system's own name for %s, not PyTorch's %s.", k, r.clashes[k].means,
        r.clashes[k].pytorch))
    end
    local sw = sorted_keys(r.switches)
    if #sw > 0 then
      local parts = {}
      for _, k in ipairs(sw) do
        local why = r.fixed_why[k]
        parts[#parts + 1] = "`" .. k .. " = " .. show(r.switches[k]) .. "`" .. (why and (" (" .. why .. ")") or "")
      end
      w()
      w("Fixed switches: " .. table.concat(parts, ", ") .. ".")
    end
    local kernel = {}
    for _, k in ipairs {"eps_inside", "centered", "momentum_style", "state_init", "bias_correction",
                        "memory_clipped", "accumulate"} do
      if r.defaults[k] ~= nil then
        local by
        for _, n in ipairs(sorted_keys(r.names)) do if r.names[n] == k then by = n end end
        kernel[#kernel + 1] = "`" .. k .. " = " .. show(r.defaults[k]) .. "`" ..
          (r.switches[k] ~= nil and " (fixed)" or by and (" (`" .. by .. "` sets it)") or "")
      end
    end
    w()
    w("Switches of the update in src/kernels/optim.h: " .. table.concat(kernel, ", ") .. ".")
    local hidden = {}
    for _, k in ipairs(sorted_keys(r.defaults)) do
      local named = false
      for _, canon in pairs(r.names) do if canon == k then named = true end end
      if not named and r.switches[k] == nil then
        local v = r.defaults[k]
        local base = gd.optim.flavors(name).pytorch.defaults[k]
        if v ~= base and type(v) ~= "table" then hidden[#hidden + 1] = "`" .. k .. " = " .. show(v) .. "`" end
      end
    end
    if #hidden > 0 then
      w()
      w("Also set (no name in this system): " .. table.concat(hidden, ", ") .. ".")
    end
    local ev = {}
    for _, e in ipairs(evidence[name .. "/" .. fl] or {}) do
      ev[#ev + 1] = string.format("spec/golden/%s.lua (%d case%s, scripts/golden/%s.py)", e.system, e.n,
        e.n == 1 and "" or "s", e.system)
    end
    w()
    w("Replayed from its system's code: " .. (#ev > 0 and table.concat(ev, "; ") or "none") .. ".")
    if r.infer then
      w()
      w("Recognised without `flavor` when " .. table.concat(r.infer, " or ") ..
        " is given and every name given is one of its names.")
    end
  end
end
w()

local text = table.concat(out, "\n")
if arg and arg[0] and arg[0]:match("gen%-flavors%-doc%.lua$") then io.write(text) end
return text

-- A small strict XML parser for the plot specs: enough XML 1.0 for SVG documents
-- (elements, attributes, text, the five predefined entities, numeric character
-- references, comments, an optional <?xml ...?> declaration).  It raises an error
-- on anything malformed: mismatched or unclosed tags, a raw '<' or a bare '&' in
-- text or attributes, unquoted or duplicate attributes, text outside the root.
--
-- parse(text) -> root node; a node is {tag =, attrs = {name = value}, children = {...},
-- text = concatenated character data}.  When lua-expat (lxp) is installed, the
-- document is also checked by expat.
local M = {}

local ENTITIES = {amp = "&", lt = "<", gt = ">", quot = '"', apos = "'"}

local function utf8(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + math.floor(cp / 262144), 0x80 + math.floor(cp / 4096) % 64,
    0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
end

local function unescape(s, where)
  if s:find("<", 1, true) then error("raw '<' in " .. where) end
  return (s:gsub("&([^;]*);?", function(name)
    local e = ENTITIES[name]
    if e then return e end
    local hex = name:match("^#x(%x+)$")
    if hex then return utf8(tonumber(hex, 16)) end
    local dec = name:match("^#(%d+)$")
    if dec then return utf8(tonumber(dec)) end
    error("bad entity or bare '&' in " .. where .. ": &" .. name)
  end))
end

local NAME = "[%a_:][%w_:%.%-]*"

function M.parse(text)
  local pos = 1
  local root
  local stack = {}
  local function fail(msg) error(string.format("xml: %s at byte %d", msg, pos), 0) end
  -- optional declaration
  local decl = text:match("^%s*<%?xml.-%?>()")
  if decl then pos = decl end
  while pos <= #text do
    local lt = text:find("<", pos, true)
    local chunk = text:sub(pos, (lt or #text + 1) - 1)
    if #stack == 0 then
      if chunk:find("%S") then fail("text outside the root element") end
    else
      local node = stack[#stack]
      node.text = node.text .. unescape(chunk, "text")
    end
    if not lt then break end
    pos = lt
    if text:sub(pos, pos + 3) == "<!--" then
      local e = text:find("-->", pos + 4, true)
      if not e then fail("unclosed comment") end
      pos = e + 3
    elseif text:sub(pos, pos + 1) == "</" then
      local name, e = text:match("^</(" .. NAME .. ")%s*>()", pos)
      if not name then fail("bad closing tag") end
      local node = table.remove(stack)
      if not node or node.tag ~= name then
        fail("closing </" .. name .. "> does not match <" .. (node and node.tag or "nothing") .. ">")
      end
      pos = e
    else
      local name, p = text:match("^<(" .. NAME .. ")()", pos)
      if not name then fail("bad tag") end
      if root and #stack == 0 then fail("a second root element <" .. name .. ">") end
      local node = {tag = name, attrs = {}, children = {}, text = ""}
      while true do
        local ws, p2 = text:match("^(%s*)()", p)
        p = p2
        if text:sub(p, p + 1) == "/>" then p = p + 2; node.closed = true; break end
        if text:sub(p, p) == ">" then p = p + 1; break end
        if #ws == 0 then fail("missing space before an attribute of <" .. name .. ">") end
        local aname, quote, p3 = text:match("^(" .. NAME .. ")%s*=%s*([\"'])()", p)
        if not aname then fail("bad attribute in <" .. name .. ">") end
        local close = text:find(quote, p3, true)
        if not close then fail("unterminated attribute value") end
        if node.attrs[aname] ~= nil then fail("duplicate attribute " .. aname) end
        node.attrs[aname] = unescape(text:sub(p3, close - 1), "attribute " .. aname)
        p = close + 1
      end
      if #stack > 0 then table.insert(stack[#stack].children, node) else root = node end
      if not node.closed then stack[#stack + 1] = node end
      pos = p
    end
  end
  if #stack > 0 then fail("unclosed <" .. stack[#stack].tag .. ">") end
  if not root then fail("no root element") end
  local ok, lxp = pcall(require, "lxp")
  if ok then
    local p = lxp.new({})
    local good, msg = p:parse(text)
    if good then good, msg = p:parse() end
    p:close()
    if not good then error("expat: " .. tostring(msg), 0) end
  end
  return root
end

--- All nodes below (and including) node for which pred(node) is true, in document order.
function M.find_all(node, pred, out)
  out = out or {}
  if pred(node) then out[#out + 1] = node end
  for _, c in ipairs(node.children) do M.find_all(c, pred, out) end
  return out
end

--- Nodes whose class attribute is `class` (and, when given, whose tag is `tag`).
function M.by_class(root, class, tag)
  return M.find_all(root, function(n) return n.attrs.class == class and (tag == nil or n.tag == tag) end)
end

--- The numbers of a points attribute or path data, as {{x, y}, ...} per subpath
-- ("M" starts a new one); "Z" marks it closed.
function M.subpaths(d)
  local paths = {}
  local cur
  for cmd, args in d:gmatch("([MLZmlz]?)%s*([^MLZmlz]*)") do
    if cmd == "M" or cur == nil then cur = {}; paths[#paths + 1] = cur end
    if cmd == "Z" then cur.closed = true end
    for x, y in args:gmatch("(%-?[%d%.e%-]+)[,%s]+(%-?[%d%.e%-]+)") do cur[#cur + 1] = {tonumber(x), tonumber(y)} end
  end
  local out = {}
  for _, p in ipairs(paths) do if #p > 0 then out[#out + 1] = p end end
  return out
end

return M

--- gd.bench.sqlite: the few SQLite calls the benchmark needs, through the FFI
-- (Debian's libsqlite3-0).  open(path) gives a connection in WAL mode with a
-- busy timeout, so that several worker processes share one file safely.
local ffi = require "ffi"
local doc = require "gd.doc"

ffi.cdef [[
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
int sqlite3_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs);
int sqlite3_close_v2(sqlite3 *db);
const char *sqlite3_errmsg(sqlite3 *db);
int sqlite3_busy_timeout(sqlite3 *db, int ms);
int sqlite3_sleep(int ms);
int sqlite3_exec(sqlite3 *db, const char *sql, void *cb, void *arg, char **err);
void sqlite3_free(void *p);
int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt, const char **tail);
int sqlite3_bind_double(sqlite3_stmt *s, int i, double v);
int sqlite3_bind_int64(sqlite3_stmt *s, int i, int64_t v);
int sqlite3_bind_null(sqlite3_stmt *s, int i);
int sqlite3_bind_text(sqlite3_stmt *s, int i, const char *v, int n, void *destructor);
int sqlite3_step(sqlite3_stmt *s);
int sqlite3_reset(sqlite3_stmt *s);
int sqlite3_clear_bindings(sqlite3_stmt *s);
int sqlite3_finalize(sqlite3_stmt *s);
int sqlite3_column_count(sqlite3_stmt *s);
const char *sqlite3_column_name(sqlite3_stmt *s, int i);
int sqlite3_column_type(sqlite3_stmt *s, int i);
double sqlite3_column_double(sqlite3_stmt *s, int i);
int64_t sqlite3_column_int64(sqlite3_stmt *s, int i);
const unsigned char *sqlite3_column_text(sqlite3_stmt *s, int i);
int64_t sqlite3_last_insert_rowid(sqlite3 *db);
]]

local M = {}
local lib
local function load()
  if lib then return lib end
  local ok, l = pcall(ffi.load, "sqlite3")
  if not ok then ok, l = pcall(ffi.load, "libsqlite3.so.0") end
  if not ok then error("gd.bench: cannot load SQLite (Debian package libsqlite3-0): " .. tostring(l), 3) end
  lib = l
  return lib
end

local SQLITE_ROW, SQLITE_DONE = 100, 101
local OPEN_RW_CREATE = 0x2 + 0x4 + 0x8000  -- READWRITE | CREATE | FULLMUTEX
local SQLITE_TRANSIENT = ffi.cast("void *", -1)
local INTEGER, FLOAT, NULL = 1, 2, 5

local Db = {}
Db.__index = Db

local function open(path)
  local L = load()
  local box = ffi.new("sqlite3 *[1]")
  local rc = L.sqlite3_open_v2(path, box, OPEN_RW_CREATE, nil)
  if rc ~= 0 then
    local msg = box[0] ~= nil and ffi.string(L.sqlite3_errmsg(box[0])) or ("code " .. rc)
    if box[0] ~= nil then L.sqlite3_close_v2(box[0]) end
    error(string.format("gd.bench.sqlite.open: cannot open %s: %s", path, msg), 2)
  end
  local self = setmetatable({h = ffi.gc(box[0], L.sqlite3_close_v2), path = path, stmts = {}, ncached = 0}, Db)
  L.sqlite3_busy_timeout(self.h, 60000)
  -- Switching to WAL takes an exclusive lock, and SQLite returns BUSY at once
  -- (without the busy handler) while another process is opening or converting
  -- the same file: seen with ranks opening one results file together.  Retry
  -- for up to the busy timeout; once the file is in WAL mode the pragma is a
  -- no-op that needs no lock.
  local waited = 0
  while lib.sqlite3_exec(self.h, "PRAGMA journal_mode=WAL", nil, nil, nil) ~= 0 do
    if waited >= 60000 then self:exec("PRAGMA journal_mode=WAL") end -- raises, naming the error
    L.sqlite3_sleep(20)
    waited = waited + 20
  end
  self:exec("PRAGMA synchronous=NORMAL")
  return self
end
M.open = doc(open, "gd.bench.sqlite.open", [[
gd.bench.sqlite.open(path) -> db: an SQLite connection (WAL, 60 s busy timeout).
  db:exec(sql), db:rows(sql, ...) -> array of row tables, db:run(sql, ...) (binds
  numbers, strings, nil; returns the last row id), db:transaction(fn) (BEGIN
  IMMEDIATE ... COMMIT, ROLLBACK when fn raises), db:close().]])

function Db:err(what)
  return string.format("gd.bench.sqlite: %s: %s (%s)", what, ffi.string(lib.sqlite3_errmsg(self.h)), self.path)
end

function Db:exec(sql)
  local rc = lib.sqlite3_exec(self.h, sql, nil, nil, nil)
  if rc ~= 0 then error(self:err(sql:sub(1, 60)), 2) end
end

-- Prepared statements are kept per SQL text and reused (reset, bindings
-- cleared): a trial's result is a few hundred INSERTs of one text, and
-- preparing each took most of its store.  At most MAX_CACHED texts are kept
-- (SQL built with values inlined would otherwise grow the cache with use);
-- others are finalized after their one use.
local MAX_CACHED = 64

local function prepare(self, sql, ...)
  local s = self.stmts[sql]
  if s == nil then
    local box = ffi.new("sqlite3_stmt *[1]")
    if lib.sqlite3_prepare_v2(self.h, sql, #sql, box, nil) ~= 0 then error(self:err(sql:sub(1, 60)), 3) end
    s = box[0]
    if self.ncached < MAX_CACHED then
      self.stmts[sql] = ffi.gc(s, lib.sqlite3_finalize)
      self.ncached = self.ncached + 1
    end
  else
    lib.sqlite3_clear_bindings(s)
  end
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    local t = type(v)
    if v == nil then lib.sqlite3_bind_null(s, i)
    elseif t == "number" then
      if v == math.floor(v) and math.abs(v) < 2^53 then lib.sqlite3_bind_int64(s, i, v)
      else lib.sqlite3_bind_double(s, i, v) end
    else v = tostring(v); lib.sqlite3_bind_text(s, i, v, #v, SQLITE_TRANSIENT) end
  end
  return s
end

-- After its use a statement is reset (which ends its read of the file: a
-- statement left mid-way would hold a read transaction open) or finalized.
local function release(self, sql, s)
  if self.stmts[sql] == s then lib.sqlite3_reset(s) else lib.sqlite3_finalize(s) end
end

function Db:rows(sql, ...)
  local s = prepare(self, sql, ...)
  local out = {}
  local n = lib.sqlite3_column_count(s)
  while true do
    local rc = lib.sqlite3_step(s)
    if rc == SQLITE_DONE then break end
    if rc ~= SQLITE_ROW then
      local msg = self:err(sql:sub(1, 60))
      release(self, sql, s)
      error(msg, 2)
    end
    local row = {}
    for i = 0, n - 1 do
      local name = ffi.string(lib.sqlite3_column_name(s, i))
      local ty = lib.sqlite3_column_type(s, i)
      if ty == INTEGER then row[name] = tonumber(lib.sqlite3_column_int64(s, i))
      elseif ty == FLOAT then row[name] = lib.sqlite3_column_double(s, i)
      elseif ty ~= NULL then row[name] = ffi.string(lib.sqlite3_column_text(s, i)) end
    end
    out[#out + 1] = row
  end
  release(self, sql, s)
  return out
end

function Db:run(sql, ...)
  local s = prepare(self, sql, ...)
  local rc = lib.sqlite3_step(s)
  if rc ~= SQLITE_DONE and rc ~= SQLITE_ROW then
    local msg = self:err(sql:sub(1, 60))
    release(self, sql, s)
    error(msg, 2)
  end
  release(self, sql, s)
  return tonumber(lib.sqlite3_last_insert_rowid(self.h))
end

function Db:transaction(fn)
  self:exec("BEGIN IMMEDIATE")
  local ok, a, b = pcall(fn, self)
  if not ok then pcall(self.exec, self, "ROLLBACK"); error(a, 0) end
  self:exec("COMMIT")
  return a, b
end

function Db:close()
  if self.h == nil then return end
  for sql, s in pairs(self.stmts) do lib.sqlite3_finalize(ffi.gc(s, nil)); self.stmts[sql] = nil end
  self.ncached = 0
  lib.sqlite3_close_v2(ffi.gc(self.h, nil))
  self.h = nil
end

return doc(M, "gd.bench.sqlite", [[
gd.bench.sqlite: SQLite through the FFI (open).]])

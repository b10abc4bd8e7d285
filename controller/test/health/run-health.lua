-- Runs an Argo CD health check (arg[1], a Lua file) on each object of arg[2], a Lua file that
-- returns a list of objects. Each run gets a fresh environment holding `obj` and only the
-- libraries Argo CD opens for health scripts (base functions, table, string, math), so a script
-- that reaches for io or os fails here as it would in Argo CD. Prints one line per object:
-- "<index>\t<status>\t<message>", or "<index>\tERROR\t<what went wrong>"; newlines in messages
-- are printed as \n.
local check = assert(loadfile(arg[1]))
local objects = assert(loadfile(arg[2]))()

local allowed = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring", "type", "unpack",
  "string", "table", "math",
}

local function sandbox(object)
  local env = { obj = object }
  for _, name in ipairs(allowed) do
    env[name] = _G[name]
  end
  return env
end

local function oneline(text)
  return (tostring(text):gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub("\t", "\\t"))
end

for i, object in ipairs(objects) do
  setfenv(check, sandbox(object))
  local ok, hs = pcall(check)
  if not ok then
    print(i .. "\tERROR\t" .. oneline(hs))
  elseif type(hs) ~= "table" or type(hs.status) ~= "string" then
    print(i .. "\tERROR\tthe check returned " .. oneline(type(hs)) .. " without a status string")
  else
    print(i .. "\t" .. hs.status .. "\t" .. oneline(hs.message or ""))
  end
end

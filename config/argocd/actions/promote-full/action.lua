-- Skips every remaining step and promotes the canary to stable.
local function stamp(key)
  if obj.metadata.annotations == nil then
    obj.metadata.annotations = {}
  end
  -- A new value each time: the operator acts once per value.
  local value = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local old = obj.metadata.annotations[key]
  if old ~= nil and string.sub(old, 1, string.len(value)) == value then
    value = value .. "-" .. (tonumber(string.sub(old, string.len(value) + 2)) or 1) + 1
  end
  obj.metadata.annotations[key] = value
end

stamp("rollout.apps.msvc.dev/promote-full")
return obj

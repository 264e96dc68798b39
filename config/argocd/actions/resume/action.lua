-- Lets a paused rollout go on.
if obj.metadata.annotations ~= nil then
  obj.metadata.annotations["rollout.apps.msvc.dev/paused"] = nil
end
return obj

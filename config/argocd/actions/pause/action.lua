-- Holds the rollout where it is until the resume action.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["rollout.apps.msvc.dev/paused"] = "true"
return obj

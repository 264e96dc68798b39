-- Argo CD resource actions for apps.msvc.dev/Microservice: which of them
-- apply to the object now. Each action sets one of the operator's control
-- annotations (see docs/gitops.md); the operator acts once per new value.
actions = {}
actions["promote"] = {["disabled"] = true}
actions["promote-full"] = {["disabled"] = true}
actions["abort"] = {["disabled"] = true}
actions["retry"] = {["disabled"] = true}
actions["pause"] = {["disabled"] = true}
actions["resume"] = {["disabled"] = true}

local phase = ""
if obj.status ~= nil and obj.status.rollout ~= nil and obj.status.rollout.phase ~= nil then
  phase = obj.status.rollout.phase
end
local paused = obj.metadata.annotations ~= nil and obj.metadata.annotations["rollout.apps.msvc.dev/paused"] == "true"

-- A canary is under way from its first step until the stable track runs it.
local underWay = phase == "Progressing" or phase == "Paused"
if phase == "Paused" then
  actions["promote"]["disabled"] = false
end
if underWay then
  actions["promote-full"]["disabled"] = false
end
if underWay or phase == "Promoting" then
  actions["abort"]["disabled"] = false
end
if phase == "Aborted" or phase == "RolledBack" then
  actions["retry"]["disabled"] = false
end
if paused then
  actions["resume"]["disabled"] = false
else
  actions["pause"]["disabled"] = false
end
return actions

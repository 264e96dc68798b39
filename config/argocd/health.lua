-- Argo CD health check for apps.msvc.dev/Microservice.
-- Install it as resource.customizations.health.apps.msvc.dev_Microservice
-- (see docs/gitops.md).
hs = {}
hs.status = "Progressing"
hs.message = "Waiting for the msvc-operator to report status"

if obj.status == nil then
  return hs
end

local function condition(t)
  if obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "Waiting for the msvc-operator to observe generation " .. obj.metadata.generation
  return hs
end

-- A member of a release (the apps.msvc.dev/release label) is as healthy as
-- the release: held after passing its steps, or waiting for the release's
-- order, it is progressing with the release; gone back with it, degraded,
-- naming the member that failed.
local release = obj.status.rollout ~= nil and obj.status.rollout.release or nil
if release ~= nil then
  if release.state == "Waiting" or release.state == "Passed" then
    hs.status = "Progressing"
    hs.message = "Release " .. release.name .. ": " .. (release.message or release.state)
    return hs
  end
  if release.state == "RolledBack" and release.failedMember ~= nil then
    hs.status = "Degraded"
    hs.message = "Release " .. release.name .. " went back after " .. release.failedMember .. " failed: " .. (release.message or obj.status.rollout.message or "")
    return hs
  end
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end

local degraded = condition("Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.message
  return hs
end

local rollout = obj.status.rollout
if rollout ~= nil then
  if rollout.phase == "Paused" then
    hs.status = "Suspended"
    hs.message = rollout.message
    return hs
  end
  if rollout.phase == "Progressing" or rollout.phase == "Promoting" then
    hs.status = "Progressing"
    hs.message = rollout.message
    return hs
  end
end

local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = reconciling.message
  return hs
end

local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if ready ~= nil then
  hs.message = ready.message
end
return hs

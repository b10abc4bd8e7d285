-- Argo CD health check for stromboli.dev/v1alpha1 AgentRun (docs/kubernetes-health.md).
-- Install it under the argocd-cm key resource.customizations.health.stromboli.dev_AgentRun.
-- Lua 5.1, as Argo CD runs it: reads the global `obj`, returns { status = ..., message = ... }.
-- Decides from the Succeeded condition, like Argo CD's check for Tekton's TaskRun:
--   being deleted                                   Progressing (the finalizers it waits for)
--   spec.suspend, not started, not finished         Suspended
--   no status yet, or observedGeneration behind     Progressing (waiting for the controller)
--   Succeeded=True                                  Healthy
--   Succeeded=False (Failed, Cancelled)             Degraded
--   Succeeded=Unknown (Pending, Queued, Retrying, Running)  Progressing
-- Tested by controller/test/kube/argocd-health.int.test.ts on the objects the controller writes.
local hs = {}

local function condition(status, type)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or "Unknown"
  if c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  return reason
end

local metadata = obj.metadata or {}
local spec = obj.spec or {}
local status = obj.status or {}
local phase = status.phase
local finished = phase == "Succeeded" or phase == "Failed" or phase == "Cancelled"

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  if metadata.finalizers ~= nil and #metadata.finalizers > 0 then
    hs.message = "Deleting: waiting for " .. table.concat(metadata.finalizers, ", ")
  else
    hs.message = "Deleting"
  end
  return hs
end

-- spec.suspend holds a run whose container has not started (also between two attempts);
-- spec.cancel wins over it. A running run is not stopped by suspend, so it stays Progressing.
if spec.suspend == true and spec.cancel ~= true and not finished and phase ~= "Running" then
  hs.status = "Suspended"
  hs.message = "Suspended: spec.suspend is true; the run starts when it is false"
  return hs
end

local generation = metadata.generation
local observed = status.observedGeneration
if observed == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to reconcile the run"
  return hs
end
if generation ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. generation .. " (observed " .. observed .. ")"
  return hs
end

local succeeded = condition(status, "Succeeded")
if succeeded == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller: no Succeeded condition yet"
elseif succeeded.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(succeeded)
elseif succeeded.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(succeeded)
else
  hs.status = "Progressing"
  hs.message = describe(succeeded)
end
return hs

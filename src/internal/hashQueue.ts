import * as AuthMetrics from "../AuthMetrics.js"

/** Counts a job in the hash queue's depth until it starts (its wait recorded then) or leaves unstarted. */
export const queueWait = (): { readonly started: () => void; readonly left: () => void } => {
  const queuedAt = performance.now()
  let waiting = true
  AuthMetrics.hashQueueDepth.unsafeModify(1, [])
  const leave = () => {
    if (!waiting) return false
    waiting = false
    AuthMetrics.hashQueueDepth.unsafeModify(-1, [])
    return true
  }
  return {
    started: () => {
      if (leave()) AuthMetrics.hashQueueWait.unsafeUpdate(performance.now() - queuedAt, [])
    },
    left: () => void leave()
  }
}

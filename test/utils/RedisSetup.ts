/**
 * vitest global setup: decides once per run whether the Redis suites run, and says so when they don't.
 */
import { Redis } from "ioredis"
import type { TestProject } from "vitest/node"

const defaultUrl = "redis://127.0.0.1:6379"

const answers = async (url: string) => {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null
  })
  client.on("error", () => undefined)
  try {
    await client.connect()
    return (await client.ping()) === "PONG"
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

export default async function setup(project: TestProject) {
  // An explicit REDIS_URL always runs the suites (a server that is down then fails them loudly).
  const url = process.env.REDIS_URL || ((await answers(defaultUrl)) ? defaultUrl : "")
  if (url === "") console.log("Redis suites skipped: REDIS_URL is not set and no Redis answers on 127.0.0.1:6379.")
  project.provide("redisUrl", url)
}

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string
  }
}

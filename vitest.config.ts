import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    alias: [
      { find: /^effect-users\/http$/, replacement: new URL("./src/http.ts", import.meta.url).pathname },
      { find: /^effect-users\/sql$/, replacement: new URL("./src/sql.ts", import.meta.url).pathname },
      { find: /^effect-users\/redis$/, replacement: new URL("./src/redis.ts", import.meta.url).pathname },
      { find: /^effect-users\/pg$/, replacement: new URL("./src/pg.ts", import.meta.url).pathname },
      { find: /^effect-users\/otel$/, replacement: new URL("./src/otel.ts", import.meta.url).pathname },
      { find: /^effect-users$/, replacement: new URL("./src/index.ts", import.meta.url).pathname }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/utils/PgSetup.ts", "./test/utils/RedisSetup.ts"],
    setupFiles: ["./test/utils/EffectEquality.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})

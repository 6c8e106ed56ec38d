import { defineConfig } from "vitest/config"

export default defineConfig({
  // src/LazyAjv.cts is TypeScript too (CommonJS: see the file).
  esbuild: { include: /\.(m?ts|cts|[jt]sx)$/ },
  test: { include: ["test/**/*.test.ts"], testTimeout: 30_000 }
})

import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The console is served by the local gateway (and, deployed, by CloudFront) from the same origin
// as the API, so every call is relative (`/v1/...`). `manifest` lets scripts/size.mjs find the
// JavaScript of the first load.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    manifest: true,
    sourcemap: false,
    // No inline script: the polyfill would be bundled anyway, and every browser we serve has
    // module preloading.
    modulePreload: { polyfill: false },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});

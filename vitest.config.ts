import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Real-kernel (oracle) tests create namespaces and run iptables-restore; they are slower.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

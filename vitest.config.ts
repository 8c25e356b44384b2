import { defineConfig } from "vitest/config";

const integration = [
  "packages/*/src/**/*.integration.test.ts",
  "apps/*/src/**/*.integration.test.ts",
  "apps/*/test/**/*.test.ts",
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts"],
          exclude: [...integration, "**/node_modules/**", "**/dist/**"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: integration,
          exclude: ["**/node_modules/**", "**/dist/**"],
          // Starts the S3 and DynamoDB servers once per run and hands their endpoints to every test file.
          globalSetup: ["./scripts/vitest-global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

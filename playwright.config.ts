// Playwright runs the e2e specs against a real SQLGuard server started per worker (e2e/fixtures/server.ts).
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  // Builds console/out once if it is missing or stale; the server serves it at `/`.
  globalSetup: "./e2e/global-setup.ts",
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  reporter: [["list"], ["json", { outputFile: "reports/playwright.json" }]],
  use: {
    screenshot: "on",
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's chromium: `npx playwright install` cannot download browsers on these machines.
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
      ],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium", viewport: { width: 1280, height: 800 } } }],
});

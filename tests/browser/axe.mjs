// Runs axe-core in the system Chromium on each URL given, in light and dark colour schemes;
// prints one JSON object: {url: {scheme: [violations as {id, impact, nodes}]}}.
// Usage: node axe.mjs CHROMIUM_PATH URL...
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const axeSource = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");
const [executablePath, ...urls] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
});
const results = {};
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  for (const url of urls) {
    results[url] = {};
    for (const scheme of ["light", "dark"]) {
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
      await page.goto(url, { waitUntil: "networkidle0" });
      // An XML file is replaced by its XSLT result after it loads: wait for the page proper.
      await page.waitForFunction(() => document.documentElement?.localName === "html", { timeout: 10000 });
      await page.evaluate(axeSource);
      const found = await page.evaluate(async () => {
        // Chromium's own deprecation banner over XSLT output is not the page's.
        const report = await window.axe.run({ exclude: [["xslt-warning-banner"]] });
        return report.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.html).slice(0, 3) }));
      });
      results[url][scheme] = found;
    }
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results));

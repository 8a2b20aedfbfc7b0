// Open a page in headless Chromium (Debian's /usr/bin/chromium, ANGLE + SwiftShader for WebGL),
// wait until it sets window.relightReady, and screenshot it.
//   node tools/web/shoot.js URL OUT.png WIDTH HEIGHT [canvas|page] [TIMEOUT_MS]
// Prints one JSON line: {stats (window.relightStats), error, wall_ms, console}.
const { chromium } = require('playwright-core');

(async () => {
  const [url, out, w, h, what = 'canvas', timeout = '120000'] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist',
           '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const console_ = [];
  let result = { error: null };
  const t0 = Date.now();
  try {
    const page = await browser.newPage({ viewport: { width: +w, height: +h }, deviceScaleFactor: 1 });
    page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => console_.push(`pageerror: ${e}`));
    await page.goto(url);
    await page.waitForFunction(() => window.relightReady === true || !!window.relightError, null, { timeout: +timeout });
    result = await page.evaluate(() => ({ stats: window.relightStats || null, error: window.relightError || null }));
    if (what === 'canvas') {  // the drawing buffer itself, pixel for pixel (not the page's layout of it)
      const url = await page.evaluate(() => document.querySelector('#viewer canvas').toDataURL('image/png'));
      require('fs').writeFileSync(out, Buffer.from(url.split(',')[1], 'base64'));
    }
    else await page.screenshot({ path: out, fullPage: true });
  } catch (e) {
    result.error = String(e);
  }
  result.wall_ms = Date.now() - t0;
  result.console = console_.slice(-20);
  console.log(JSON.stringify(result));
  await browser.close();
  process.exit(result.error ? 1 : 0);
})();

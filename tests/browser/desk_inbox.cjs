// Drives the /desk web inbox in headless Chromium (Debian's, through playwright-core) as a person
// at the desk would: sign in, find the escalated ticket, read the conversation, reply, resolve.
// Prints what it saw as JSON for the Python test to check.
//
// usage: node desk_inbox.cjs BASE_URL TOKEN

const path = require("path");
const { chromium } = require(path.join(__dirname, "..", "node", "node_modules", "playwright-core"));

async function main() {
  const [base, token] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const seen = {};
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/desk`);
    seen.redirectedTo = new URL(page.url()).pathname;

    await page.fill("input[name=token]", "not-the-token");
    await page.click("button[type=submit]");
    seen.wrongTokenError = await page.textContent("[role=alert]");

    await page.fill("input[name=token]", token);
    await page.click("button[type=submit]");
    seen.afterLogin = new URL(page.url()).pathname;
    seen.rows = await page.$$eval("tbody tr", (rows) => rows.map((r) => ({
      ticket: r.dataset.ticket, cells: [...r.querySelectorAll("td")].map((td) => td.textContent.trim()) })));
    seen.scriptElements = await page.$$eval("script", (s) => s.length);
    seen.filters = await page.$$eval("#filters a", (links) => links.map((a) => a.textContent.trim()));
    seen.updated = await page.$$eval("tbody tr td:last-child", (cells) => cells.map((c) => c.textContent.trim()));

    await page.click("tbody tr:first-child a");
    seen.ticketPath = new URL(page.url()).pathname;
    seen.conversation = await page.$$eval("#conversation .msg", (ms) => ms.map((m) => m.textContent));
    await page.fill("textarea[name=message]", "Hello, this is Sam from support. I am on it.");
    await page.click("form[action$='/reply'] button");
    seen.afterReply = await page.$$eval("#conversation .msg", (ms) => ms.map((m) => m.textContent));

    await page.click("form[action$='/resolve'] button");
    seen.afterResolve = new URL(page.url()).pathname;
    seen.rowsAfterResolve = await page.$$eval("tbody tr", (rows) => rows.map((r) => r.dataset.ticket));
    await page.click("#filters a[data-status=resolved]");
    seen.resolvedPath = new URL(page.url()).pathname + new URL(page.url()).search;
    seen.resolvedRows = await page.$$eval("tbody tr", (rows) => rows.map((r) => r.dataset.ticket));

    // A new browser without the cookie is sent to sign in again.
    const stranger = await browser.newPage();
    await stranger.goto(`${base}/desk/tickets/${seen.rows[0].ticket}`);
    seen.strangerPath = new URL(stranger.url()).pathname;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
}

main().catch((error) => { console.error(error); process.exit(1); });

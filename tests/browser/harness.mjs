// SPDX-License-Identifier: GPL-2.0
//
// What the Chromium scripts share: Debian's Chromium launched headless
// through playwright-core, every problem a page shows (console errors and
// warnings, page errors, dialogs) collected, and the verdict as the exit
// status: 0 with the script's OK line, 1 with one FAIL line per problem.
import { chromium } from 'playwright-core';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
	'--disable-component-update', '--no-first-run', '--disable-sync'];

export const problems = [];

// A failed check is reported at the end; the script goes on.
export function check(cond, msg) {
	if (!cond)
		problems.push(msg);
}

// A failed check stops the script (what follows would only fail after it).
export function must(cond, msg) {
	if (!cond)
		throw new Error(msg);
}

// Report what @page shows of errors, warnings and dialogs, each line led by @prefix.
export function watch(page, prefix = '') {
	page.on('console', (m) => {
		if (m.type() === 'error' || m.type() === 'warning')
			problems.push(`${prefix}console ${m.type()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push(`${prefix}page error: ${e.message}`));
	page.on('dialog', async (d) => {
		problems.push(`${prefix}dialog: ${d.message()}`);
		await d.dismiss();
	});
}

// The serve page has settled after a change made at @since: its data-ready is new; not 'error'.
export async function ready(page, since) {
	await page.waitForFunction((t) => document.body.dataset.ready &&
		document.body.dataset.ready !== t, since, { timeout: 30000 });
	const r = await page.evaluate(() => document.body.dataset.ready);
	must(r !== 'error', 'the page shows an error: ' +
		await page.evaluate(() => document.getElementById('error').textContent));
	return r;
}

// Run @body(browser) in a fresh Chromium, then exit with the verdict.
export async function inChromium(okMessage, body) {
	const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS,
						timeout: 60000 });

	try {
		await body(browser);
	} catch (e) {
		problems.push(e.message);
	} finally {
		await browser.close();
	}
	if (problems.length) {
		for (const p of problems)
			console.error('FAIL: ' + p);
		process.exit(1);
	}
	console.log(okMessage);
}

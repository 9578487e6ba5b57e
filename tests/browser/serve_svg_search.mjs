// SPDX-License-Identifier: GPL-2.0
//
// Search in the server's standalone SVGs (/api/flamegraph.svg,
// /api/diff.svg) opened as documents in a real headless Chromium, under the
// server's Content-Security-Policy. Exits non-zero on failure.
//
//   node serve_svg_search.mjs URL
//
// The store holds runs 1 (svc;main;one 10) and 2 (svc;main;two 30). The
// Search button and Ctrl-F ask for the term with prompt(), which the policy's
// sandbox must allow: the prompt appears, and the answer "two" is matched
// (the whole of run 2's graph). No console error or warning.
import { inChromium, check, problems } from './harness.mjs';

const [url] = process.argv.slice(2);
const base = url.replace(/\/$/, '');

await inChromium('standalone SVG search OK', async (browser) => {
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	let prompts = 0;

	page.on('console', (m) => {
		if (m.type() === 'error' || m.type() === 'warning')
			problems.push(`console ${m.type()}: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
	page.on('dialog', async (d) => {
		prompts++;
		if (d.type() !== 'prompt')
			problems.push(`a ${d.type()} dialog: ${d.message()}`);
		await d.accept('two');
	});
	for (const [path, want] of [['/api/flamegraph.svg?run=2', 'Matched: 100.00%'],
				    ['/api/diff.svg?base.run=1&new.run=2', 'Matched: ']]) {
		for (const how of ['button', 'Ctrl-F']) {
			const before = prompts;

			await page.goto(base + path, { waitUntil: 'load' });
			if (how === 'button')
				await page.click('#search');
			else
				await page.keyboard.press('Control+f');
			await page.waitForFunction(() => document.getElementById('matched').textContent.trim(),
				null, { timeout: 5000 }).catch(() => {});
			const m = await page.evaluate(() => document.getElementById('matched').textContent);
			check(prompts === before + 1, `${path}, ${how}: no prompt`);
			check(m.startsWith(want), `${path}, ${how}: '${m}', not '${want}...'`);
			console.log(`${path}, ${how}: ${m}`);
		}
	}
});

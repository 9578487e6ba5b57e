// SPDX-License-Identifier: GPL-2.0
//
// Drives the page of `profile serve` in a real headless Chromium (Debian's
// /usr/bin/chromium through playwright-core). Exits non-zero on failure.
//
//   node serve.mjs URL BASE_RUN NEW_RUN COMM [SCREENSHOT.png]
//
// Opens the page, checks the flame graph and top table appear, drags a range
// on the timeline (it must land in the URL), filters by process COMM, zooms
// and searches the graph, compares run BASE_RUN with NEW_RUN and looks for a
// changed function; no console error, no page error, no dialog anywhere.
import { inChromium, must as check, ready, watch } from './harness.mjs';

const [url, baseRun, newRun, comm, shot] = process.argv.slice(2);

await inChromium('page OK', async (browser) => {
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	watch(page);
	await page.goto(url + `?run=${baseRun}`, { waitUntil: 'load' });
	let t = await ready(page, '');
	let n = await page.locator('#graph rect.f').count();
	check(n > 5, `the flame graph has ${n} frames`);
	check(await page.locator('#top tbody tr').count() > 3, 'the top table is empty');
	console.log(`page: ${n} frames, ${await page.locator('#top tbody tr').count()} table rows`);

	// drag over the middle of the timeline: the range lands in the URL
	const box = await page.locator('#timeline').boundingBox();
	await page.mouse.move(box.x + box.width * 0.2, box.y + 30);
	await page.mouse.down();
	await page.mouse.move(box.x + box.width * 0.5, box.y + 30, { steps: 5 });
	await page.mouse.move(box.x + box.width * 0.9, box.y + 30, { steps: 5 });
	await page.mouse.up();
	t = await ready(page, t);
	const q = new URL(page.url()).searchParams;
	check(/^@\d+$/.test(q.get('since') || '') && /^@\d+$/.test(q.get('until') || ''),
		'the range is not in the URL: ' + page.url());
	console.log(`range: ${q.get('since')} .. ${q.get('until')}`);
	// a link reproduces the view
	await page.goto(page.url(), { waitUntil: 'load' });
	t = await ready(page, '');
	check(await page.locator('#range').textContent() !== '' &&
		!(await page.locator('#range').textContent()).includes('everything'), 'the link lost the range');
	await page.click('#clear-range');
	t = await ready(page, t);

	// filter by process
	await page.selectOption('#f-comm', comm);
	t = await ready(page, t);
	check(new URL(page.url()).searchParams.get('comm') === comm, 'comm is not in the URL');
	const roots = await page.evaluate(() => [...document.querySelectorAll('#graph rect.f')]
		.filter((r) => r.getAttribute('data-p') === '0').map((r) => r.getAttribute('data-n')));
	check(roots.length === 1 && roots[0] === comm, 'filtered graph roots: ' + roots.join(','));

	// zoom: click the widest frame two levels down; the zoom transform is set
	const target = await page.evaluate(() => {
		const rs = [...document.querySelectorAll('#graph rect.f')];
		const r = rs.find((x) => x.getAttribute('data-p') !== '-1' && x.getAttribute('data-p') !== '0' && +x.getAttribute('width') > 30);
		return r ? r.getAttribute('data-n') : null;
	});
	check(target, 'no frame to zoom into');
	await page.locator(`#graph rect.f[data-n="${target.replace(/"/g, '\\"')}"]`).first().click();
	check(await page.evaluate(() => document.querySelector('#graph #zoom').getAttribute('transform')),
		'clicking a frame did not zoom');
	await page.keyboard.press('Escape');
	check(!(await page.evaluate(() => document.querySelector('#graph #zoom').getAttribute('transform'))),
		'Escape did not reset the zoom');
	// search
	await page.fill('#fg-search', 'leaf_');
	await page.waitForFunction(() => /matched \d/.test(document.getElementById('fg-matched').textContent));
	const m = await page.locator('#fg-matched').textContent();
	check(parseFloat(m.replace('matched ', '')) > 0, 'search matched nothing: ' + m);
	check((await page.evaluate(() => document.querySelector('#graph #hits').getAttribute('d'))).length > 5,
		'no highlight');
	console.log(`search: ${m}`);
	// a click on a table row searches that function
	await page.locator('#top tbody tr').first().click();
	check((await page.inputValue('#fg-search')).startsWith('^'), 'a table row click did not search');
	// sorting by name
	await page.locator('#top thead th').first().click();
	const names = await page.$$eval('#top tbody td.name', (tds) => tds.map((t) => t.textContent));
	check(names.join('\n') === [...names].sort((a, b) => b.localeCompare(a)).join('\n') ||
		names.join('\n') === [...names].sort((a, b) => a.localeCompare(b)).join('\n'), 'the table did not sort');

	// compare two runs: clear the process filter, pick the other run
	await page.selectOption('#f-comm', '');
	t = await ready(page, t);
	await page.selectOption('#f-newrun', newRun);
	t = await ready(page, t);
	check(new URL(page.url()).searchParams.get('new.run') === newRun, 'new.run is not in the URL');
	const diff = await page.$$eval('#top tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
	check(diff.length > 2, 'the change table is empty');
	const changed = diff.find((r) => r[5] === '*');
	check(changed, 'no significant change in the table: ' + JSON.stringify(diff.slice(0, 5)));
	console.log(`compare: ${diff.length} rows; first significant: ${changed[0]} ${changed[1]} ${changed[2]}`);
	check(await page.locator('#graph rect.f').count() > 5, 'no differential graph');
	check(/diff\.svg/.test(await page.getAttribute('#dl-svg', 'href')), 'the SVG download is not the diff');
	if (shot) {
		await page.selectOption('#f-newrun', '');
		t = await ready(page, t);
		await page.fill('#fg-search', 'leaf_');
		await page.waitForTimeout(300);
		await page.screenshot({ path: shot, fullPage: true });
	}
	const csp = await page.evaluate(async () => (await fetch('/')).headers.get('content-security-policy'));
	check(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), 'page CSP: ' + csp);
});

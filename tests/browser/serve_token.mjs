// SPDX-License-Identifier: GPL-2.0
//
// The page of `profile serve --auth-token FILE` opened as /?token=TOKEN, in a
// real headless Chromium. Exits non-zero on failure.
//
//   node serve_token.mjs URL TOKEN
//
// The store holds two imported runs, of hosts db1 and db2. The page must load
// its script and style without the token, then pass the token on to every API
// request: the filters are filled, the graph and table drawn, a host picked
// from the filter narrows them, and the download links carry the token. No
// console error (a refused script or style sheet is one), no failed request.
import { inChromium, must as check, ready, watch, problems } from './harness.mjs';

const [url, token] = process.argv.slice(2);

await inChromium('token page OK', async (browser) => {
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	watch(page);
	page.on('response', (r) => {
		if (r.status() >= 400)
			problems.push(`${r.status()} for ${r.url()}`);
	});
	await page.goto(`${url}?token=${token}`, { waitUntil: 'load' });
	let t = await ready(page, '');
	const hosts = await page.$$eval('#f-host option', (os) => os.map((o) => o.value));
	check(hosts.includes('db1') && hosts.includes('db2'), 'the host filter: ' + hosts.join(','));
	check(await page.locator('#graph rect.f').count() >= 3, 'no flame graph');
	check(await page.locator('#top tbody tr').count() >= 2, 'no top table');
	await page.selectOption('#f-host', 'db2');
	t = await ready(page, t);
	const q = new URL(page.url()).searchParams;
	check(q.get('host') === 'db2' && q.get('token') === token, 'the URL: ' + page.url());
	const names = await page.$$eval('#top tbody tr', (trs) => trs.map((tr) => tr.cells[0].textContent));
	check(names.includes('two') && !names.includes('one'), 'host db2 selects: ' + names.join(','));
	for (const id of ['dl-svg', 'dl-folded', 'dl-pprof']) {
		const href = await page.getAttribute('#' + id, 'href');
		check(new URL(href, url).searchParams.get('token') === token, `#${id} lacks the token: ${href}`);
	}
	console.log('with the token: hosts ' + hosts.join(',') + '; host db2: ' + names.join(','));
});

// SPDX-License-Identifier: GPL-2.0
//
// The comparison modes of the page of `profile serve`, in a real headless
// Chromium. Exits non-zero on failure.
//
//   node compare.mjs URL
//
// The store holds two imported runs of process "svc": host alpha, build
// aaaa1111, three hours ago, parse and render 50% each; host beta, build
// bbbb2222, an hour ago, parse 90% and render 10%. From the page: compare
// host alpha with host beta, build aaaa1111 with build bbbb2222 (both picked
// from the build filter the store fills, which names the process), and the
// first time range with the last (dragged on the timeline); each time the
// change table shows parse +40 points and render -40, significant, with the
// differential graph, and the comparison is in the URL. No console error.
import { inChromium, must as check, ready, watch } from './harness.mjs';

const [url] = process.argv.slice(2);

// The change table: parse grew 40 points, render shrank 40, both significant.
async function changed(page, what) {
	const rows = await page.$$eval('#top tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
	const head = await page.$$eval('#top thead th', (ths) => ths.map((t) => t.textContent));
	check(head[1].startsWith('Δself'), `${what}: not the change table: ${head.join('|')}`);
	const row = (n) => rows.find((r) => r[0] === n);
	check(row('parse') && row('parse')[1] === '+40.00' && row('parse')[5] === '*',
		`${what}: parse: ${JSON.stringify(row('parse'))}`);
	check(row('render') && row('render')[1] === '-40.00' && row('render')[5] === '*',
		`${what}: render: ${JSON.stringify(row('render'))}`);
	check(await page.locator('#graph rect.f').count() >= 5, `${what}: no differential graph`);
	check(/diff\.svg/.test(await page.getAttribute('#dl-svg', 'href')), `${what}: the SVG download is not the diff`);
	console.log(`${what}: parse ${row('parse')[1]}, render ${row('render')[1]}; ` +
		await page.locator('#cmp-desc').textContent());
}

async function drag(page, from, to) {
	const box = await page.locator('#timeline').boundingBox();
	const x = (f) => box.x + (f > 1 ? box.width + 20 : Math.max(1, box.width * f));
	await page.mouse.move(x(from), box.y + 30);
	await page.mouse.down();
	await page.mouse.move(x((from + to) / 2), box.y + 30, { steps: 4 });
	await page.mouse.move(x(to), box.y + 30, { steps: 4 });
	await page.mouse.up();
}

await inChromium('comparisons OK', async (browser) => {
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	watch(page);

	// two hosts
	await page.goto(url + '?host=alpha', { waitUntil: 'load' });
	let t = await ready(page, '');
	await page.selectOption('#f-newhost', 'beta');
	t = await ready(page, t);
	let q = new URL(page.url()).searchParams;
	check(q.get('host') === 'alpha' && q.get('new.host') === 'beta', 'hosts not in the URL: ' + page.url());
	await changed(page, 'host alpha vs beta');
	// a link reproduces the comparison
	await page.goto(page.url(), { waitUntil: 'load' });
	t = await ready(page, '');
	await changed(page, 'host alpha vs beta, reloaded');
	await page.click('#cmp-off');
	t = await ready(page, t);
	q = new URL(page.url()).searchParams;
	check(![...q.keys()].some((k) => k.startsWith('new.')), 'stop comparing left ' + page.url());
	check((await page.$$eval('#top thead th', (ths) => ths.map((x) => x.textContent)))[1].startsWith('self'),
		'stop comparing did not bring back the top table');

	// two builds, from the build filter the store fills
	await page.goto(url, { waitUntil: 'load' });
	t = await ready(page, '');
	const builds = await page.$$eval('#f-build option', (os) => os.map((o) => [o.value, o.textContent]));
	console.log('build filter: ' + JSON.stringify(builds));
	check(builds.some(([v, txt]) => v === 'aaaa1111' && /^aaaa1111 svc \(1000\)$/.test(txt)) &&
		builds.some(([v, txt]) => v === 'bbbb2222' && /^bbbb2222 svc \(1000\)$/.test(txt)),
		'the build filter does not list the builds with their process');
	await page.selectOption('#f-build', 'aaaa1111');
	t = await ready(page, t);
	check(new URL(page.url()).searchParams.get('build_id') === 'aaaa1111', 'build_id is not in the URL');
	const one = await page.$$eval('#top tbody tr', (trs) => trs.map((tr) => tr.cells[0].textContent + ' ' + tr.cells[1].textContent));
	check(one.includes('parse 50.00'), 'the build filter did not select build aaaa1111: ' + one.join(', '));
	await page.selectOption('#f-newbuild', 'bbbb2222');
	t = await ready(page, t);
	check(new URL(page.url()).searchParams.get('new.build_id') === 'bbbb2222', 'new.build_id is not in the URL');
	await changed(page, 'build aaaa1111 vs bbbb2222');
	await page.click('#cmp-off');
	t = await ready(page, t);
	await page.selectOption('#f-build', '');
	t = await ready(page, t);

	// two time ranges: the first part of the timeline, then the last
	await drag(page, 0, 0.3);
	t = await ready(page, t);
	await page.click('#cmp-range');
	check((await page.locator('#range').textContent()).includes('drag the range to compare with'),
		'the page does not ask for the range to compare with');
	await drag(page, 0.7, 2);
	t = await ready(page, t);
	q = new URL(page.url()).searchParams;
	check(/^@\d+$/.test(q.get('since')) && /^@\d+$/.test(q.get('new.since')) && /^@\d+$/.test(q.get('new.until')),
		'the ranges are not in the URL: ' + page.url());
	check(+q.get('new.since').slice(1) >= +q.get('until').slice(1), 'the ranges overlap: ' + page.url());
	check(+(await page.getAttribute('#tl-sel-new', 'width')) > 10, 'the range compared with is not drawn');
	await changed(page, 'first range vs last range');
});

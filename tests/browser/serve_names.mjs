// SPDX-License-Identifier: GPL-2.0
//
// Names that look like patterns, picked from the page's filters of
// `profile serve`, in a real headless Chromium. Exits non-zero on failure.
//
//   node serve_names.mjs URL
//
// The store holds three runs: host db1 (function one), host "db[1]" labelled
// k=a,b (two) and host "db*" labelled k=a (three). host= is a glob, so a
// host picked from the list must be sent quoted: "db[1]" selects only two,
// not db1's one; "db*" only three. The label filter lists k=a,b whole and
// selects only its run; comparing host db1 with "db[1]" names both as they
// are. No console error.
import { inChromium, must as check, ready, watch } from './harness.mjs';

const [url] = process.argv.slice(2);

const functions = (page) => page.$$eval('#top tbody tr', (trs) =>
	trs.map((tr) => tr.cells[0].textContent).filter((n) => !['svc', 'main'].includes(n)).sort());

await inChromium('names OK', async (browser) => {
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	watch(page);
	await page.goto(url, { waitUntil: 'load' });
	let t = await ready(page, '');
	const hosts = await page.$$eval('#f-host option', (os) => os.map((o) => [o.value, o.textContent]));
	console.log('host filter: ' + JSON.stringify(hosts));
	for (const [host, want] of [['db[1]', 'two'], ['db*', 'three'], ['db1', 'one']]) {
		const opt = hosts.find(([, txt]) => txt === host);
		check(opt, `host ${host} is not in the filter`);
		await page.selectOption('#f-host', opt[0]);
		t = await ready(page, t);
		const got = await functions(page);
		check(got.join() === want, `host ${host} (host=${opt[0]}) selects ${got.join()}, not ${want}`);
		console.log(`host ${host}: host=${new URL(page.url()).searchParams.get('host')}: ${got.join()}`);
	}
	// a link reproduces the choice, the filter showing it
	await page.selectOption('#f-host', hosts.find(([, txt]) => txt === 'db[1]')[0]);
	t = await ready(page, t);
	await page.goto(page.url(), { waitUntil: 'load' });
	t = await ready(page, '');
	check(await page.$eval('#f-host', (s) => s.selectedOptions[0].textContent) === 'db[1]',
		'the reloaded link does not show host db[1]');
	check((await functions(page)).join() === 'two', 'the reloaded link does not select db[1]');
	// compare it with db1: the description names the hosts as they are
	await page.selectOption('#f-newhost', hosts.find(([, txt]) => txt === 'db1')[0]);
	t = await ready(page, t);
	const desc = await page.locator('#cmp-desc').textContent();
	check(desc === 'base host=db[1]  vs  new host=db1', 'the comparison: ' + desc);
	await page.click('#cmp-off');
	t = await ready(page, t);
	await page.selectOption('#f-host', '');
	t = await ready(page, t);

	// labels: k=a,b whole
	const labels = await page.$$eval('#f-label option', (os) => os.map((o) => o.value));
	check(labels.join('|') === '|env=x|k=a|k=a,b', 'label filter: ' + labels.join('|'));
	await page.selectOption('#f-label', 'k=a,b');
	t = await ready(page, t);
	check((await functions(page)).join() === 'two', 'label k=a,b selects ' + (await functions(page)).join());
	console.log('label k=a,b: ' + (await functions(page)).join() + '; ' + desc);
});

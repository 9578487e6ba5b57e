// SPDX-License-Identifier: GPL-2.0
//
// The page of `profile serve` over a store whose every name is hostile
// (imported: functions, processes, hosts and labels such as
// "</script><img src=x onerror=window.__pwned=1>", quotes, "&", "<svg onload>",
// "javascript:" URLs, control characters, invalid UTF-8) must run no script
// and add no element. Drives two servers through the same steps: CLEAN, a
// store of the same shape with plain names, and HOSTILE. Exits non-zero on
// failure.
//
//   node hostile.mjs CLEAN_URL HOSTILE_URL
//
// Steps: the page, a tooltip on every frame, a zoom on every frame, a search
// from every table row and from typed fragments, sorting, every host, label
// and process filter, hostile values in the URL, the comparison of run 1 with
// run 2 (tooltips, zoom, row searches), and the server's standalone SVGs
// opened directly (their own script, hovered and searched). After each step:
// no window.__pwned, no dialog, no console error or page error, no element
// with an on* attribute or a javascript: URL, and per step the same number of
// script, img, svg, iframe, object, embed, foreignObject, style, link, base
// and form elements on both servers.
import { inChromium, must as check, ready, watch } from './harness.mjs';

const [cleanUrl, hostileUrl] = process.argv.slice(2);
const TAGS = ['script', 'img', 'svg', 'iframe', 'object', 'embed', 'foreignObject', 'style',
	'link', 'base', 'form', 'video', 'audio', 'math'];

// What a step left behind: element counts, and anything that ran or could run.
function inspect(tags) {
	const n = {};
	for (const t of tags)
		n[t] = document.getElementsByTagName(t).length;
	const bad = [];
	for (const e of document.querySelectorAll('*')) {
		for (const a of e.attributes) {
			if (/^on/i.test(a.name))
				bad.push(`<${e.localName} ${a.name}>`);
			if (/^\s*javascript:/i.test(a.value) && /^(href|src|xlink:href|action|formaction|data)$/i.test(a.name))
				bad.push(`<${e.localName} ${a.name}="${a.value.slice(0, 40)}">`);
		}
	}
	return { n, bad, pwned: window.__pwned };
}

async function steps(page, base, log) {
	// @own: a document the server wrote whole, with handlers of its own
	const record = async (name, own) => {
		const r = await page.evaluate(inspect, TAGS);
		check(r.pwned === undefined, `${name}: a name ran script (window.__pwned = ${r.pwned})`);
		check(own || !r.bad.length, `${name}: ${r.bad.slice(0, 5).join(' ')}`);
		log.push([name, JSON.stringify(r.n)]);
	};
	// every frame: a tooltip, then a zoom (Escape resets)
	const everyFrame = async () => page.evaluate(() => {
		const rs = [...document.querySelectorAll('#graph rect.f')];
		for (const r of rs) {
			const b = r.getBoundingClientRect();
			r.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: b.x + 1, clientY: b.y + 1 }));
		}
		const tip = document.getElementById('tip').textContent;
		for (const r of rs)
			r.dispatchEvent(new MouseEvent('click', { bubbles: true }));
		window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }));
		return [rs.length, tip];
	});
	// a click on every table row searches its function
	const everyRow = async () => {
		const n = await page.locator('#top tbody tr').count();
		for (let i = 0; i < n; i++)
			await page.locator('#top tbody tr').nth(i).click();
		return n;
	};

	await page.goto(base + '?run=1', { waitUntil: 'load' });
	let t = await ready(page, '');
	await record('page');
	const [frames] = await everyFrame();
	check(frames > 10, `only ${frames} frames`);
	await record('tooltips and zoom');
	const rows = await everyRow();
	check(rows > 5, `only ${rows} table rows`);
	await record('row searches');
	for (const s of ['<img', 'javascript:', "'", '"', '&', '<svg', 'script>', '\\x01', '.*', '']) {
		await page.fill('#fg-search', s);
		await page.waitForTimeout(120);
	}
	await record('typed searches');
	for (let i = 0; i < 3; i++) {
		await page.locator('#top thead th').nth(i).click();
		await page.locator('#top thead th').nth(i).click();
	}
	await record('sorting');
	for (const id of ['#f-host', '#f-label', '#f-comm']) {
		const values = await page.$$eval(`${id} option`, (os) => os.map((o) => o.value));
		for (const v of [...values.slice(1), '']) {
			await page.selectOption(id, v);
			t = await ready(page, t);
			await everyFrame();
		}
	}
	await record('filters');
	// names in the URL: a process not in the store, a label, a host
	const evil = '"><img src=x onerror=window.__pwned=30><svg onload=alert(31)>';
	await page.goto(base + '?run=1&comm=' + encodeURIComponent(evil) + '&host=' +
		encodeURIComponent('javascript:alert(32)'), { waitUntil: 'load' });
	t = await ready(page, '');
	await record('names in the URL');
	// comparison of the two runs
	await page.goto(base + '?run=1', { waitUntil: 'load' });
	t = await ready(page, '');
	await page.selectOption('#f-newrun', '2');
	t = await ready(page, t);
	const [dframes] = await everyFrame();
	check(dframes > 10, `only ${dframes} frames in the comparison`);
	await everyRow();
	await record('comparison');
	// the server's own interactive SVGs, opened as documents
	for (const path of ['/api/flamegraph.svg?run=1', '/api/diff.svg?base.run=1&new.run=2']) {
		await page.goto(base.replace(/\/$/, '') + path, { waitUntil: 'load' });
		await page.evaluate(() => {
			for (const g of document.querySelectorAll('rect, g, text')) {
				g.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
				g.dispatchEvent(new MouseEvent('mousemove', { bubbles: true }));
			}
		});
		await record('standalone ' + path.split('?')[0], true);
	}
	return frames;
}

const logs = {};
await inChromium('hostile names: nothing ran, nothing added', async (browser) => {
	for (const [name, url] of [['clean', cleanUrl], ['hostile', hostileUrl]]) {
		const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
		watch(page, `${name}: `);
		logs[name] = [];
		const frames = await steps(page, url, logs[name]);
		console.log(`${name}: ${frames} frames, ${logs[name].length} steps`);
		await page.close();
	}
	for (let i = 0; i < logs.clean.length; i++) {
		const [step, c] = logs.clean[i], h = logs.hostile[i][1];
		check(c === h, `${step}: elements clean ${c}, hostile ${h}`);
		console.log(`${step}: ${h}`);
	}
});

// SPDX-License-Identifier: GPL-2.0
//
// Zooming into what the server pruned, in a real headless Chromium. Exits
// non-zero on failure.
//
//   node serve_zoom.mjs URL RUN
//
// The store is tests/test_e2e_serve.c's 100,000 stacks (50 modules x 40
// classes x 50 leaves, leaf N weighing 1 + N * 7919 % 97). In the whole graph
// a method's 50 leaves are far narrower than the 0.1 px the server keeps, so
// they are not there. A click on the method zooms at once, then the page
// asks the server for that frame's graph (focus=) and draws it: the 50 leaves
// must then be under the method with their names and weights, the tooltip's
// share still of the whole profile; a click on a leaf zooms further, and
// Escape brings the whole graph back. No console errors.
import { inChromium, check, watch } from './harness.mjs';

const [url, run] = process.argv.slice(2);
const MODULE = 7, CLASS = 3;
const METHOD = `app::module_0${MODULE}::Class${CLASS}::method_${CLASS}`;

// The frames under the frame named @name: [name, value] pairs, and its index.
const childrenOf = (name) => {
	const i = fg.F.findIndex((f) => f.n === name);
	return { i, kids: i < 0 ? [] : fg.F.filter((f) => f.p === i).map((f) => [f.n, f.v]) };
};

// Click frame @name; the time until the detail is drawn (the second animation frame after).
async function clickAndWait(page, name) {
	return page.evaluate(async (name) => {
		const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
		const before = document.body.dataset.detail;
		const f = fg.F.find((x) => x.n === name);
		const t0 = performance.now();
		f.r.dispatchEvent(new MouseEvent('click', { bubbles: true }));
		const zoomed = fg.zoomed;
		await frame();
		const instant = performance.now() - t0;
		while (document.body.dataset.detail === before)
			await new Promise((r) => setTimeout(r, 5));
		await frame();
		await frame();
		return { instant, zoomed, detail: performance.now() - t0 };
	}, name);
}

await inChromium('zoom OK', async (browser) => {
	const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
	watch(page);
	await page.goto(`${url}?run=${run}`, { waitUntil: 'load' });
	await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120000 });
	check(await page.evaluate(() => document.body.dataset.ready) !== 'error', 'the page shows an error');
	const whole = await page.evaluate(([fn, m]) => ({ frames: fg.F.length, ...(0, eval)(fn)(m) }),
		[childrenOf.toString(), METHOD]);
	console.log(`whole graph: ${whole.frames} frames; ${METHOD} has ${whole.kids.length} drawn children`);
	check(whole.i > 0, `${METHOD} is not in the whole graph`);
	check(whole.kids.length === 0, `${METHOD}'s leaves are in the whole graph: nothing was pruned to test`);

	const t = await clickAndWait(page, METHOD);
	console.log(`zoom into ${METHOD}: zoomed in ${t.instant.toFixed(0)} ms, its detail drawn ${t.detail.toFixed(0)} ms after the click`);
	check(t.zoomed > 0, 'the click did not zoom at once');
	const focused = await page.evaluate(([fn, m]) => {
		const c = (0, eval)(fn)(m);
		return { ...c, zoomed: fg.zoomed, focus: fg.focus, frames: fg.F.length,
			tip: describe(c.i + 1), transform: fg.zoomer.getAttribute('transform') };
	}, [childrenOf.toString(), METHOD]);
	const want = [];
	for (let c = 0; c < 50; c++) {
		const leaf = (MODULE * 40 + CLASS) * 50 + c;
		want.push([`leaf_${leaf}`, 1 + (leaf * 7919) % 97]);
	}
	want.sort((a, b) => (a[0] < b[0] ? -1 : 1));
	const got = focused.kids.slice().sort((a, b) => (a[0] < b[0] ? -1 : 1));
	console.log(`after the detail: ${focused.frames} frames, ${got.length} under ${METHOD}, tooltip '${focused.tip}'`);
	check(JSON.stringify(got) === JSON.stringify(want),
		`the leaves under ${METHOD} after zooming: ${JSON.stringify(got.slice(0, 5))}..., not ${JSON.stringify(want.slice(0, 5))}...`);
	check(focused.zoomed === focused.i, `the detail is not zoomed on ${METHOD} (${focused.zoomed}, ${focused.i})`);
	check(focused.focus && focused.focus.join(';') === `app;main;app::module_0${MODULE}::dispatch;` +
		`app::module_0${MODULE}::Worker::run;${METHOD}`, `focus: ${focused.focus}`);
	// the share stays of the whole profile (4900035 samples)
	const leaf = got[0];
	check(focused.tip.includes(`(${leaf[1]} samples, ${(100 * leaf[1] / 4900035).toFixed(2)}%)`),
		`tooltip of a leaf: ${focused.tip}`);

	// deeper: a leaf
	const t2 = await clickAndWait(page, got[0][0]);
	const deeper = await page.evaluate(() => ({ focus: fg.focus, zoomed: fg.zoomed, n: fg.F[fg.zoomed].n }));
	console.log(`zoom into ${got[0][0]}: detail drawn ${t2.detail.toFixed(0)} ms after the click`);
	check(deeper.n === got[0][0] && deeper.focus.length === 6, `zoom into a leaf: ${JSON.stringify(deeper)}`);

	// Escape: the whole graph again
	await page.keyboard.press('Escape');
	const back = await page.evaluate(() => ({ frames: fg.F.length, focus: fg.focus, zoomed: fg.zoomed,
		transform: fg.zoomer.getAttribute('transform') }));
	check(back.frames === whole.frames && !back.focus && !back.transform,
		`Escape: ${JSON.stringify(back)}, not the whole graph of ${whole.frames} frames`);
	await page.close();
});

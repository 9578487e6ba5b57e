// SPDX-License-Identifier: GPL-2.0
// The page of `profile serve`: filters and a timeline that choose a selection
// (kept in the URL, so a link reproduces the view), the flame graph the
// server renders (imported as SVG nodes without its script: this file drives
// zoom, search and tooltips), the top table, and comparison with another run.
// Every name reaches the page through textContent or attribute values, never
// as markup.
"use strict";

const $ = (id) => document.getElementById(id);
const SEL = ["since", "until", "host", "comm", "build_id", "label", "run"];
// what the comparison's NEW side may change of the selection (new.KEY in the URL)
const NEW = ["run", "host", "build_id", "since", "until"];
const state = new URLSearchParams(location.search);
const PAD = 10, CHARW = 7.08;
let fg = null, rows = [], sortKey = null, sortDesc = true, searching = "";
// the whole graph's SVG, kept to go back to after a zoom fetched a frame's detail
let wholeSvg = "", detailSeq = 0;
let dragNew = false;	// the next drag on the timeline picks the range to compare with

function params(prefix, extra) {
	const p = new URLSearchParams();
	for (const k of SEL) {
		for (const v of state.getAll(k)) {
			if (v !== "") p.append(prefix + k, v);
		}
	}
	if (state.get("token")) p.set("token", state.get("token"));
	for (const [k, v] of Object.entries(extra || {})) p.set(k, v);
	return p;
}

function diffParams(extra) {
	const p = params("base.", extra), n = params("new.");
	n.delete("token");
	for (const k of NEW) {
		if (state.get("new." + k)) n.set("new." + k, state.get("new." + k));
	}
	for (const [k, v] of n) p.append(k, v);
	return p;
}

function comparing() {
	return NEW.some((k) => state.get("new." + k));
}

// "host=a, build_id=3f2a" for what NEW changes, from BASE's values
function describeCompare() {
	const side = (pre) => NEW.filter((k) => state.get("new." + k)).map((k) => k + "=" +
		(k === "since" || k === "until" ? fmtWhen(state.get(pre + k)) :
		 k === "host" && state.get(pre + k) ? globUnquote(state.get(pre + k)) :
		 (state.get(pre + k) || "any")));
	$("cmp-desc").textContent = comparing() ?
		"base " + side("").join(", ") + "  vs  new " + side("new.").join(", ") : "";
}

// @s as a host= pattern (SQLite's GLOB) that matches @s alone: each of * ? [ as a set of one
function globQuote(s) {
	return s.replace(/[*?[]/g, "[$&]");
}

// what globQuote() made, back to the name, for people to read
function globUnquote(s) {
	return s.replace(/\[([*?[])\]/g, "$1");
}

function fmtWhen(v) {
	const t = parseTs(v);
	return t ? fmtTime(t) : v || "open";
}

function setURL() {
	history.replaceState(null, "", "?" + state.toString());
}

async function api(path, p) {
	const r = await fetch(path + "?" + p.toString());
	if (!r.ok) {
		let msg = r.status + " " + r.statusText;
		try { msg = (await r.json()).error; } catch (e) { /* not JSON */ }
		throw new Error(msg);
	}
	return r;
}

function showError(e) {
	const el = $("error");
	el.hidden = !e;
	el.textContent = e ? String(e.message || e) : "";
}

function fillSelect(sel, values, current, label) {
	sel.replaceChildren();
	const any = document.createElement("option");
	any.value = "";
	any.textContent = sel.id.startsWith("f-new") ? "(off)" : "any";
	sel.appendChild(any);
	for (const v of values) {
		const o = document.createElement("option");
		o.value = typeof v === "object" ? v.value : v;
		o.textContent = label ? label(v) : o.value;
		sel.appendChild(o);
	}
	sel.value = current || "";
}

function fmtTime(t) {
	const d = new Date(t * 1000), z = (n) => String(n).padStart(2, "0");
	return d.getFullYear() + "-" + z(d.getMonth() + 1) + "-" + z(d.getDate()) + " " +
		z(d.getHours()) + ":" + z(d.getMinutes()) + ":" + z(d.getSeconds());
}

async function loadFilters() {
	const none = new URLSearchParams();
	if (state.get("token")) none.set("token", state.get("token"));
	// the processes of the rest of the selection: picking one keeps the others listed
	const others = params("", {});
	others.delete("comm");
	const [runs, hosts, labels, comms, builds] = await Promise.all([
		api("/api/runs", none).then((r) => r.json()),
		api("/api/hosts", none).then((r) => r.json()),
		api("/api/labels", none).then((r) => r.json()),
		api("/api/comms", others).then((r) => r.json()),
		api("/api/builds", none).then((r) => r.json()),
	]);
	const runLabel = (r) => "#" + r.id + " " + r.kind + " " + r.host + " " +
		fmtTime(r.start_ms / 1000) + " (" + r.samples + ")";
	const runVals = runs.runs.map((r) => ({ value: String(r.id), r })).reverse();
	fillSelect($("f-run"), runVals, state.get("run"), (v) => runLabel(v.r));
	fillSelect($("f-newrun"), runVals, state.get("new.run"), (v) => runLabel(v.r));
	// host= is a glob: a host picked from the list is sent quoted, matching only itself
	const hostVals = hosts.hosts.map((h) => ({ value: globQuote(h), h }));
	fillSelect($("f-host"), hostVals, state.get("host"), (v) => v.h);
	fillSelect($("f-newhost"), hostVals, state.get("new.host"), (v) => v.h);
	// one entry per executable: its build id and the process names it ran as
	const byId = new Map();
	for (const b of builds.builds) {
		if (!b.build_id) continue;
		const e = byId.get(b.build_id) || { value: b.build_id, comms: [], samples: 0 };
		e.comms.push(b.comm);
		e.samples += b.samples;
		byId.set(b.build_id, e);
	}
	const buildVals = [...byId.values()];
	for (const [id, key] of [["f-build", "build_id"], ["f-newbuild", "new.build_id"]]) {
		if (state.get(key) && !byId.has(state.get(key)))
			buildVals.push({ value: state.get(key), comms: ["?"], samples: 0 });
		fillSelect($(id), buildVals, state.get(key), (v) => v.value.slice(0, 12) + " " +
			v.comms.join(", ") + " (" + v.samples + ")");
	}
	fillSelect($("f-label"), labels.labels, state.get("label"));
	const names = comms.comms.sort((a, b) => b.samples - a.samples).map((c) => c.name);
	if (state.get("comm") && !names.includes(state.get("comm"))) names.push(state.get("comm"));
	fillSelect($("f-comm"), names, state.get("comm"));
}

// ---- timeline ----

let tl = null;

async function loadTimeline() {
	const p = params("");
	p.delete("since");
	p.delete("until");
	const t = await (await api("/api/timeline", p)).json();
	const svg = $("timeline"), w = svg.clientWidth || 800, h = 90, ns = svg.namespaceURI;
	const max = Math.max(1, ...t.points.map((q) => q[1]));
	const span = Math.max(1, t.until - t.since);
	tl = { since: t.since, until: t.until, w, span };
	svg.replaceChildren();
	for (const [ts, n] of t.points) {
		const r = document.createElementNS(ns, "rect");
		const bh = (h - 16) * n / max;
		r.setAttribute("class", "bar");
		r.setAttribute("x", ((ts - t.since) / span * w).toFixed(2));
		r.setAttribute("width", Math.max(1, t.step / span * w - 0.5).toFixed(2));
		r.setAttribute("y", (h - 14 - bh).toFixed(2));
		r.setAttribute("height", bh.toFixed(2));
		svg.appendChild(r);
	}
	for (const [x, txt, anchor] of [[2, fmtTime(t.since), "start"], [w - 2, fmtTime(t.until), "end"]]) {
		const e = document.createElementNS(ns, "text");
		e.setAttribute("x", x);
		e.setAttribute("y", h - 3);
		e.setAttribute("text-anchor", anchor);
		e.textContent = txt;
		svg.appendChild(e);
	}
	for (const [id, cls] of [["tl-sel", "sel"], ["tl-sel-new", "sel new"]]) {
		const sel = document.createElementNS(ns, "rect");
		sel.setAttribute("class", cls);
		sel.setAttribute("id", id);
		sel.setAttribute("y", 0);
		sel.setAttribute("height", h - 14);
		svg.appendChild(sel);
	}
	drawRange();
}

function parseTs(v) {
	return v && v[0] === "@" ? +v.slice(1) : null;
}

function drawRange() {
	const a = parseTs(state.get("since")), b = parseTs(state.get("until"));
	const na = parseTs(state.get("new.since")), nb = parseTs(state.get("new.until"));
	$("range").textContent = ((a || b) ?
		"range: " + (a ? fmtTime(a) : "start") + " to " + (b ? fmtTime(b) : "end") :
		"range: everything stored (drag on the timeline to choose)") +
		((na || nb) ? "; compared with " + (na ? fmtTime(na) : "start") + " to " +
			(nb ? fmtTime(nb) : "end") : "") +
		(dragNew ? "; now drag the range to compare with" : "");
	$("cmp-range").classList.toggle("on", dragNew);
	describeCompare();
	if (!tl)
		return;
	for (const [id, x, y] of [["tl-sel", a, b], ["tl-sel-new", na, nb]]) {
		const sel = $(id);
		const x0 = x ? (x - tl.since) / tl.span * tl.w : 0, x1 = y ? (y - tl.since) / tl.span * tl.w : tl.w;
		sel.setAttribute("x", Math.max(0, x0));
		sel.setAttribute("width", (x || y) ? Math.max(1, x1 - x0) : 0);
	}
}

function setupTimeline() {
	const svg = $("timeline");
	let start = null;
	const xOf = (e) => {
		const r = svg.getBoundingClientRect();
		return Math.min(Math.max(0, e.clientX - r.left), r.width) * (tl.w / r.width);
	};
	const tsOf = (x) => Math.round(tl.since + x / tl.w * tl.span);
	svg.addEventListener("mousedown", (e) => {
		if (!tl) return;
		start = xOf(e);
		e.preventDefault();
	});
	window.addEventListener("mousemove", (e) => {
		if (start === null) return;
		const x = xOf(e), sel = $(dragNew ? "tl-sel-new" : "tl-sel");
		sel.setAttribute("x", Math.min(start, x));
		sel.setAttribute("width", Math.abs(x - start));
	});
	window.addEventListener("mouseup", (e) => {
		if (start === null) return;
		const x = xOf(e), a = Math.min(start, x), b = Math.max(start, x);
		start = null;
		if (b - a < 3) { drawRange(); return; }
		// within 2 px of an end is that end
		const pre = dragNew ? "new." : "", ta = a < 2 ? tl.since : tsOf(a);
		const tb = b > tl.w - 2 ? tl.until : tsOf(b);
		state.set(pre + "since", "@" + ta);
		state.set(pre + "until", "@" + Math.max(tb, ta + 1));
		dragNew = false;
		setURL();
		drawRange();
		refresh(false);
	});
}

// ---- flame graph ----

function installGraph(text) {
	// The renderer's script, styles and handlers go before parsing (this page
	// allows none of them, and the parser would report each). Names cannot
	// look like them: the renderer escapes < > & " and ' everywhere.
	text = text.replace(/<script[^>]*>[\s\S]*?<\/script>/g, "")
		.replace(/<style[^>]*>[\s\S]*?<\/style>/g, "")
		.replace(/ (on[a-z]+|style)="[^"]*"/g, "");
	const doc = new DOMParser().parseFromString(text, "image/svg+xml");
	const svg = doc.documentElement;
	if (svg.nodeName !== "svg")
		throw new Error("the server sent no SVG");
	for (const e of svg.querySelectorAll("script, style, foreignObject, #search, #unzoom, #details, #matched"))
		e.remove();
	for (const e of [svg, ...svg.querySelectorAll("*")]) {
		const at = e.attributes;
		for (let k = at.length - 1; k >= 0; k--) {
			const n = at[k].name;
			if (n === "style" || ((n.charCodeAt(0) | 32) === 111 && (n.charCodeAt(1) | 32) === 110))
				e.removeAttribute(n);	/* style, on* in any case */
		}
	}
	// moved, not copied, into the page
	const node = document.adoptNode(svg);
	node.removeAttribute("height");
	$("graph").replaceChildren(node);
	const box = node.querySelector("#frames");
	const F = [];
	if (box) {
		for (const r of box.children) {
			r._i = F.length;
			F.push({ r, n: r.getAttribute("data-n"), x: +r.getAttribute("data-x"),
				v: +r.getAttribute("data-v"), e: +r.getAttribute("data-e"),
				p: +r.getAttribute("data-p"), y: +r.getAttribute("y"),
				px: +r.getAttribute("x"), pw: +r.getAttribute("width") });
		}
	}
	fg = { svg: node, F, W: +node.getAttribute("width"), total: F.length ? F[0].v : 0,
		box, unit: box ? box.getAttribute("data-unit") : "samples",
		zoomer: node.querySelector("#zoom"), labels: node.querySelector("#labels"),
		zlabels: node.querySelector("#zlabels"), hits: node.querySelector("#hits"),
		parents: [], focus: null, all: F.length ? F[0].v : 0 };
	if (box) {
		box.addEventListener("click", (e) => { if (e.target._i !== undefined) zoomTo(e.target._i); });
		box.addEventListener("mousemove", (e) => {
			if (e.target._i === undefined) return;
			const tip = $("tip");
			tip.textContent = describe(e.target._i);
			tip.hidden = false;
			tip.style.left = Math.min(e.clientX + 12, innerWidth - 300) + "px";
			tip.style.top = (e.clientY + 14) + "px";
			$("fg-details").textContent = tip.textContent;
		});
		box.addEventListener("mouseout", () => { $("tip").hidden = true; });
	}
	const cut = box ? +box.getAttribute("data-cut") : 0;
	$("fg-cut").textContent = cut ? F.length + " frames drawn, " + cut +
		" narrower ones left out: click a frame to see what is in it" : "";
	if (searching) search(searching);
}

function describe(i) {
	const f = fg.F[i], v = f.v === Math.floor(f.v) ? String(f.v) : f.v.toFixed(3);
	return f.n + " (" + v + " " + fg.unit + ", " + (100 * f.v / fg.all).toFixed(2) + "%)" +
		(f.r.getAttribute("data-note") || "");
}

function label(frag, f, x, w) {
	const n = Math.floor((w - 6) / CHARW);
	if (n < 3) return;
	const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
	t.setAttribute("x", (x + 3).toFixed(2));
	t.setAttribute("y", f.y + 11.5);
	t.textContent = f.n.length <= n ? f.n : f.n.substr(0, n - 2) + "..";
	frag.appendChild(t);
}

function zoom(i) {
	const F = fg.F, z = F[i], W = fg.W;
	while (fg.parents.length) F[fg.parents.pop()].r.classList.remove("parent");
	fg.zlabels.textContent = "";
	if (!z || i === 0) {
		fg.zoomer.removeAttribute("transform");
		fg.labels.removeAttribute("display");
		fg.zoomed = 0;
		return;
	}
	let s = fg.total / z.v;
	fg.zoomer.setAttribute("transform", "translate(" + (PAD - s * (PAD + z.x * (W - 2 * PAD) / fg.total)) +
		",0) scale(" + s + ",1)");
	fg.labels.setAttribute("display", "none");
	const frag = document.createDocumentFragment();
	for (let k = z.p; k >= 0; k = F[k].p) {
		F[k].r.classList.add("parent");
		fg.parents.push(k);
		label(frag, F[k], PAD, W - 2 * PAD);
	}
	s = (W - 2 * PAD) / z.v;
	for (let k = i; k < z.e; k++) {
		const f = F[k], w = f.v * s;
		if (w < 6 + 3 * CHARW) { k = f.e - 1; continue; }
		label(frag, f, PAD + (f.x - z.x) * s, w);
	}
	fg.zlabels.appendChild(frag);
	fg.zoomed = i;
}

// The graph's size and pruning, as the URL asks (width: the box's), with @extra.
function graphParams(extra) {
	const width = String(Math.max(400, Math.round($("graph").clientWidth || 900)));
	// frames narrower than this many pixels are left out by the server (default
	// 0.1), and all but the widest max_frames (default 3000)
	const p = { width };
	for (const k of ["min_width", "max_frames"]) {
		if (state.get(k)) p[k] = state.get(k);
	}
	return Object.assign(p, extra || {});
}

// The names from the root to frame @i, as the server's focus= takes them.
function framePath(i) {
	const names = [];
	for (let k = i; k > 0; k = fg.F[k].p) names.push(fg.F[k].n);
	return names.reverse();
}

// Zoom at once with the frames the page has, then ask the server for frame
// @i's own graph: every stack through it, drawn at the full width, so the
// frames the whole graph left out as too narrow appear. Zooming out to the
// root puts the whole graph back.
function zoomTo(i) {
	if (!fg) return;
	const seq = ++detailSeq;
	if (i === 0 || !fg.F[i]) {
		if (fg.focus) installGraph(wholeSvg);
		else zoom(0);
		return;
	}
	const path = framePath(i), all = fg.all;
	zoom(i);
	const cmp = comparing(), fgp = graphParams({ focus: path.join(";") });
	api(cmp ? "/api/diff.svg" : "/api/flamegraph.svg", cmp ? diffParams(fgp) : params("", fgp))
		.then((r) => r.text()).then((text) => {
			if (seq !== detailSeq) return;
			installGraph(text);
			fg.focus = path;
			fg.all = all;
			// the frame's ancestors are a chain of one frame each: it is at its depth
			const k = path.length;
			if (fg.F[k] && fg.F[k].n === path[k - 1]) zoom(k);
			document.body.dataset.detail = String(seq);
		}).catch(showError);
}

function search(term) {
	searching = term;
	if (!fg || !fg.hits) return;
	if (!term) {
		fg.hits.setAttribute("d", "");
		$("fg-matched").textContent = "";
		return;
	}
	let re;
	try { re = new RegExp(term); } catch (e) { $("fg-matched").textContent = "bad regular expression"; return; }
	let sum = 0, skip = 0;
	const d = [], run = {};
	const flush = (r) => d.push("M" + r.x.toFixed(4) + " " + r.y + "h" + r.w.toFixed(4) + "v15h-" + r.w.toFixed(4) + "z");
	for (let i = 0; i < fg.F.length; i++) {
		const f = fg.F[i];
		if (!re.test(f.n)) continue;
		const r = run[f.y];
		if (r && Math.abs(r.x + r.w - f.px) < 1e-3) r.w = f.px + f.pw - r.x;
		else { if (r) flush(r); run[f.y] = { x: f.px, y: f.y, w: f.pw }; }
		if (i >= skip) { sum += f.v; skip = f.e; }
	}
	for (const y in run) flush(run[y]);
	fg.hits.setAttribute("d", d.join(""));
	$("fg-matched").textContent = "matched " + (fg.total ? 100 * sum / fg.total : 0).toFixed(2) + "%";
}

// ---- table ----

const COLS = {
	top: [["name", "function"], ["self", "self %"], ["total", "total %"]],
	diff: [["name", "function"], ["dself", "Δself"], ["dtotal", "Δtotal"], ["base_self", "self base"],
		["new_self", "self new"], ["sig", "significant"]],
};

function drawTable() {
	const kind = comparing() ? "diff" : "top", head = $("top").tHead.rows[0], body = $("top").tBodies[0];
	head.replaceChildren();
	for (const [k, title] of COLS[kind]) {
		const th = document.createElement("th");
		th.textContent = title + (sortKey === k ? (sortDesc ? " ▼" : " ▲") : "");
		th.addEventListener("click", () => {
			sortDesc = sortKey === k ? !sortDesc : k !== "name";
			sortKey = k;
			drawTable();
		});
		head.appendChild(th);
	}
	const sorted = rows.slice();
	if (sortKey) {
		sorted.sort((a, b) => {
			const x = a[sortKey], y = b[sortKey];
			const c = typeof x === "string" ? x.localeCompare(y) : x - y;
			return sortDesc ? -c : c;
		});
	}
	const frag = document.createDocumentFragment();
	for (const r of sorted) {
		const tr = document.createElement("tr");
		for (const [k] of COLS[kind]) {
			const td = document.createElement("td");
			const v = r[k];
			td.className = k === "name" ? "name" : "num";
			td.textContent = typeof v === "number" ? (k === "sig" ? (v ? "*" : "") :
				(kind === "diff" && k[0] === "d" && v > 0 ? "+" : "") + v.toFixed(2)) : v;
			tr.appendChild(td);
		}
		if (kind === "diff")
			tr.className = r.dtotal > 0 ? "up" : "down";
		tr.addEventListener("click", () => {
			const t = "^" + r.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$";
			$("fg-search").value = t;
			search(t);
		});
		frag.appendChild(tr);
	}
	body.replaceChildren(frag);
}

// ---- putting it together ----

function downloads() {
	const cmp = comparing();
	const svgp = cmp ? diffParams({ download: "1" }) : params("", { download: "1" });
	$("dl-svg").href = (cmp ? "/api/diff.svg?" : "/api/flamegraph.svg?") + svgp;
	$("dl-folded").href = "/api/folded?" + params("", { download: "1" });
	$("dl-pprof").href = "/api/pprof?" + params("");
}

async function refresh(all) {
	showError(null);
	try {
		downloads();
		describeCompare();
		const fgp = graphParams();
		const cmp = comparing();
		// the graph, the table, the filters and the timeline are asked for at once
		const graph = Promise.all(cmp ? [
			api("/api/diff.svg", diffParams(fgp)).then((r) => r.text()),
			api("/api/diff", diffParams({ limit: "300" })).then((r) => r.json()),
		] : [
			api("/api/flamegraph.svg", params("", fgp)).then((r) => r.text()),
			api("/api/top", params("", { limit: "300" })).then((r) => r.json()),
		]);
		const [[svg, table]] = await Promise.all([graph, all ? loadFilters() : null,
			all ? loadTimeline() : null]);
		if (cmp) {
			rows = table.rows.map((r) => ({ name: r.name, dself: r.new_self - r.base_self,
				dtotal: r.new_total - r.base_total, base_self: r.base_self,
				new_self: r.new_self, sig: r.significant ? 1 : 0 }));
		} else {
			const total = table.total || 1;
			rows = table.rows.map((r) => ({ name: r.name, self: 100 * r.self / total,
				total: 100 * r.total / total }));
		}
		performance.mark("profile:data");
		detailSeq++;
		wholeSvg = svg;
		installGraph(svg);
		drawTable();
		performance.mark("profile:drawn");
		document.body.dataset.ready = String(Date.now());
	} catch (e) {
		showError(e);
		document.body.dataset.ready = "error";
	}
}

function setupFilters() {
	const bind = (id, key) => $(id).addEventListener("change", () => {
		const v = $(id).value;
		if (v) state.set(key, v); else state.delete(key);
		setURL();
		refresh(!key.startsWith("new."));
	});
	bind("f-host", "host");
	bind("f-comm", "comm");
	bind("f-build", "build_id");
	bind("f-label", "label");
	bind("f-run", "run");
	bind("f-newrun", "new.run");
	bind("f-newhost", "new.host");
	bind("f-newbuild", "new.build_id");
	$("compare").addEventListener("submit", (e) => e.preventDefault());
	$("cmp-range").addEventListener("click", () => {
		dragNew = !dragNew;
		drawRange();
	});
	$("cmp-off").addEventListener("click", () => {
		for (const k of NEW) state.delete("new." + k);
		dragNew = false;
		setURL();
		for (const id of ["f-newrun", "f-newhost", "f-newbuild"]) $(id).value = "";
		drawRange();
		refresh(false);
	});
	$("filters").addEventListener("submit", (e) => e.preventDefault());
	$("clear-range").addEventListener("click", () => {
		state.delete("since");
		state.delete("until");
		setURL();
		drawRange();
		refresh(false);
	});
	let timer = null;
	$("fg-search").addEventListener("input", () => {
		clearTimeout(timer);
		timer = setTimeout(() => search($("fg-search").value), 50);
	});
	$("reset-zoom").addEventListener("click", () => zoomTo(0));
	window.addEventListener("keydown", (e) => {
		if (e.key === "Escape") zoomTo(0);
	});
}

setupFilters();
setupTimeline();
refresh(true);

"use strict";
// hdrfuse web page: pick frames, post them as one job, poll its progress, show the result.
const $ = (id) => document.getElementById(id);
let chosen = [];
let info = null;

function text(el, value) { el.textContent = value; return el; }
function element(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  Object.assign(el, props);
  children.forEach((c) => el.appendChild(c));
  return el;
}

async function loadMethods() {
  info = await (await fetch("/api/methods")).json();
  for (const m of info.methods) {
    $("method").appendChild(element("option", { value: m.name, textContent: `${m.name} (${m.kind === "hdr" ? "HDR" : "8-bit"})`, selected: m.name === info.default }));
  }
  for (const a of info.align) $("align").appendChild(element("option", { value: a, textContent: a }));
  for (const t of info.tonemap) $("tonemap").appendChild(element("option", { value: t, textContent: t, selected: t === "reinhard" }));
  const l = info.limits;
  text($("limits"), `up to ${l.max_files} frames, ${l.max_file_mb} MB each, ${l.max_total_mb} MB in all, ${(l.max_pixels / 1e6).toFixed(0)} MP per frame`);
  describe();
}

function describe() {
  const m = info.methods.find((x) => x.name === $("method").value);
  text($("method-about"), m ? m.description : "");
  $("tile-box").hidden = !(m && m.options.includes("tile"));
}

function choose(files) {
  chosen = Array.from(files);
  const list = $("chosen");
  list.replaceChildren(...chosen.map((f) => element("li", { textContent: `${f.name} (${(f.size / 1e6).toFixed(1)} MB)` })));
  $("go").disabled = chosen.length < 2;
}

async function submit() {
  const form = new FormData();
  chosen.forEach((f) => form.append("files", f, f.name));
  form.append("method", $("method").value);
  form.append("align", $("align").value);
  form.append("tonemap", $("tonemap").value);
  if (!$("tile-box").hidden && $("tile").value) form.append("tile", $("tile").value);
  $("run").hidden = false; $("result").hidden = true; $("error").hidden = true;
  $("progress").value = 0; text($("status"), "uploading ...");
  $("go").disabled = true;
  try {
    const response = await fetch("/api/jobs", { method: "POST", body: form });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    await poll(body.id);
  } catch (err) {
    text($("error"), err.message); $("error").hidden = false; text($("status"), "failed");
  } finally {
    $("go").disabled = chosen.length < 2;
  }
}

async function poll(id) {
  for (;;) {
    const job = await (await fetch(`/api/jobs/${id}`)).json();
    $("progress").value = job.progress;
    text($("status"), `${job.stage} ...`);
    if (job.status === "failed") throw new Error(job.error);
    if (job.status === "done") { show(id, job); return; }
    await new Promise((r) => setTimeout(r, 300));
  }
}

function url(id, name, download) { return `/api/jobs/${id}/files/${name}${download ? "?download=1" : ""}`; }

function show(id, job) {
  const r = job.result;
  text($("status"), `done in ${job.seconds.toFixed(1)} s`);
  text($("facts"), `${job.method}: ${r.frames} frames ${r.size[1]}x${r.size[0]}, exposures from ${r.exposure_source}, aligned: ${r.align}`);
  const pick = $("before-pick");
  pick.replaceChildren(...r.inputs.map((inp, i) => element("option", { value: inp.name, textContent: `${inp.label}${i === r.reference ? " (reference)" : ""}`, selected: i === r.reference })));
  pick.onchange = () => { $("before").src = url(id, pick.value); };
  $("before").src = url(id, r.inputs[r.reference].name);
  $("after").src = url(id, r.image);
  const fit = () => { $("after").style.width = `${$("before").clientWidth}px`; };
  $("before").onload = fit; window.onresize = fit;
  $("slider").oninput = () => { $("after-clip").style.width = `${$("slider").value}%`; };
  $("slider").oninput();
  $("downloads").replaceChildren(...Object.entries(r.downloads).map(([fmt, name]) =>
    element("a", { href: url(id, name, true), textContent: `download ${fmt.toUpperCase()}${fmt === "exr" && r.kind === "hdr" ? " (radiance)" : ""}`, id: `download-${fmt}` })));
  $("inputs").replaceChildren(...r.inputs.map((inp, i) => element("figure", {}, [
    element("img", { src: url(id, inp.name), alt: inp.label }),
    element("figcaption", { textContent: `${inp.label}${r.exposure_times ? ` — ${r.exposure_times[i] < 1 ? "1/" + Math.round(1 / r.exposure_times[i]) : r.exposure_times[i]} s` : ""}` })])));
  const groups = {};
  for (const m of r.maps) (groups[m.map] = groups[m.map] || []).push(m);
  const sections = Object.entries(groups).map(([name, maps]) => element("section", { className: "map" }, [
    element("h4", { textContent: name }),
    element("p", { className: "hint legend", textContent: maps[0].legend }),
    element("div", { className: "strip" }, maps.map((m) => element("figure", {}, [
      element("img", { src: url(id, m.name), alt: `${name} ${m.frame ?? ""}` }),
      element("figcaption", { textContent: m.frame === null ? name : `${name}: ${r.inputs[m.frame] ? r.inputs[m.frame].label : "frame " + m.frame}` })])))]));
  if (!sections.length) sections.push(element("p", { className: "hint", textContent: `${job.method} has no explanatory maps.` }));
  $("maps").replaceChildren(...sections);
  drawHistograms(r);
  $("result").hidden = false;
}

function drawHistograms(r) {
  const canvas = $("hist"); const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const series = [...r.inputs.map((inp) => [inp.label, inp.histogram, "rgba(90,90,200,0.45)"]), ["result", r.histogram, "rgba(220,60,30,0.95)"]];
  const top = Math.max(...series.flatMap((s) => s[1]));
  for (const [, h, colour] of series) {
    g.strokeStyle = colour; g.lineWidth = colour.endsWith("0.95)") ? 2.5 : 1; g.beginPath();
    h.forEach((v, i) => { const x = (i + 0.5) / h.length * canvas.width; const y = canvas.height - v / top * (canvas.height - 6); i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  }
  text($("hist-legend"), "blue: the input frames, red: the result (x: display luminance 0..1)");
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); choose(e.dataTransfer.files); });
$("files").addEventListener("change", (e) => choose(e.target.files));
$("method").addEventListener("change", describe);
$("go").addEventListener("click", submit);
loadMethods();

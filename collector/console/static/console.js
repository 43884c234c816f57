// opt-data console: legend toggles on charts, and the Operations page's live job list.
document.querySelectorAll("figcaption .lg").forEach((el) => {
  el.addEventListener("click", () => {
    el.classList.toggle("off");
    document.querySelectorAll(`g.series[data-series="${el.dataset.series}"]`)
      .forEach((g) => g.classList.toggle("off"));
  });
});

const jobsBox = document.getElementById("jobs");
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));

function renderJobs(jobs) {
  if (!jobs.length) { jobsBox.innerHTML = "<p class='muted'>no job started from this console yet</p>"; return; }
  const rows = jobs.map((j) => {
    const p = j.progress || {};
    const bar = p.total ? `<progress max="${p.total}" value="${p.done}"></progress> ${p.done}/${p.total} · ${p.rate}/s · ETA ${esc(p.eta_s)} s` : "";
    const run = j.run_id ? `<a href="/runs/${encodeURIComponent(j.run_id)}">${esc(j.run_id)}</a>` : "";
    return `<tr class="job" data-job="${j.id}" data-status="${esc(j.status)}"><td>${j.id}</td><td>${esc(j.operation)}</td>` +
      `<td>${esc(j.date)} ${esc(j.slot || "")}</td><td>${j.client_id}</td>` +
      `<td class="status-${esc(j.status)} jobstatus">${esc(j.status)}</td><td>${bar}</td><td>${run}</td>` +
      `<td>${esc(j.message)}</td><td><details><summary>output</summary><pre>${esc(j.lines.join("\n"))}</pre></details></td></tr>`;
  });
  jobsBox.innerHTML = "<table><thead><tr><th>#</th><th>operation</th><th>date/slot</th><th>client id</th>" +
    "<th>status</th><th>progress</th><th>run</th><th>result</th><th></th></tr></thead><tbody>" + rows.join("") + "</tbody></table>";
}

async function poll() {
  try {
    const r = await fetch("/api/jobs", {headers: {"X-Opt-Data": "1"}});
    if (r.ok) renderJobs(await r.json());
  } catch (e) { /* the next poll retries */ }
}

if (jobsBox) {
  poll();
  setInterval(poll, 1000);
  const form = document.getElementById("job-form");
  form?.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = document.getElementById("job-message");
    const body = Object.fromEntries(new FormData(form).entries());
    const r = await fetch("/api/jobs", {method: "POST", headers: {"Content-Type": "application/json", "X-Opt-Data": "1"}, body: JSON.stringify(body)});
    const out = await r.json();
    msg.className = r.ok ? "muted" : "err";
    msg.textContent = r.ok ? `started job ${out.id}: ${out.command}` : out.error;
    poll();
  });
}

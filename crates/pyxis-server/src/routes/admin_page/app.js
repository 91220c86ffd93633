// The admin page: reads the admin API with the session cookie and redraws.
// Names come from strangers (a remote names itself): every value goes in
// with textContent, never as HTML.
"use strict";

const FAST_MS = 2000; // remotes: a remote going offline shows within seconds
const SLOW_MS = 6000; // chunk health and users: heavier to compute

function size(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function ago(secs) {
  if (!secs) return "never";
  const s = Math.max(0, Math.round(Date.now() / 1000 - secs));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

function fill(table, rows) {
  const body = document.querySelector("#" + table + " tbody");
  const fresh = document.createElement("tbody");
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const [k, v] of Object.entries(row.data || {})) tr.dataset[k] = v;
    for (const cell of row.cells) {
      const td = document.createElement("td");
      td.textContent = cell.text;
      if (cell.cls) td.className = cell.cls;
      tr.appendChild(td);
    }
    fresh.appendChild(tr);
  }
  body.replaceWith(fresh);
}

function facts(id, pairs) {
  const dl = document.getElementById(id);
  dl.replaceChildren();
  for (const [k, v] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

async function read(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (r.status === 401 || r.status === 403) {
    // The session ended (expired, logged out, a new admin token): log in again.
    window.location.reload();
    throw new Error("not logged in");
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function status(text, failed) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.classList.toggle("error", !!failed);
}

async function remotes() {
  const { remotes } = await read("/v1/admin/remotes");
  const online = remotes.filter((r) => r.state === "online").length;
  facts("summary-remotes", [
    ["Remotes online", String(online)],
    ["Remotes not online", String(remotes.length - online)],
  ]);
  fill("remotes", remotes.map((r) => ({
    data: { remoteId: r.id, state: r.state },
    cells: [
      { text: r.name + " (" + r.url + ")" },
      { text: r.state, cls: "state state-" + r.state },
      { text: size(r.capacity) },
      { text: size(r.used) },
      { text: size(r.free) },
      { text: String(r.shards) },
      { text: ago(r.last_seen) },
      { text: r.audits_passed + " / " + r.audit_failures },
      { text: r.vetted ? "yes" : "no" },
      { text: r.quarantined ? r.quarantined + " (" + size(r.quarantined_bytes) + ")" : "0" },
    ],
  })));
  return remotes;
}

async function health() {
  const h = await read("/v1/admin/health");
  facts("summary-chunks", [
    ["Chunks to repair", String(h.degraded)],
    ["Bytes at risk", size(h.bytes_at_risk)],
    ["Garbage shards", String(h.garbage)],
  ]);
  fill("health", h.chunks.map((b) => ({
    data: { healthy: b.healthy, total: b.total },
    cells: [{ text: b.healthy + " of " + b.total }, { text: String(b.chunks) }, { text: size(b.bytes) }],
  })));
  const w = h.workers;
  facts("workers", [
    ["Chunks repaired", String(w.chunks_repaired)],
    ["Shards rebuilt", String(w.shards_rebuilt)],
    ["Repair traffic", size(w.repair_bytes)],
    ["Audits passed / failed", w.audits_passed + " / " + w.audits_failed],
    ["Unrecoverable chunks", String(w.unrecoverable)],
    ["Garbage deleted", String(w.garbage_deleted)],
  ]);
}

async function users() {
  const { users } = await read("/v1/admin/users");
  fill("users", users.map((u) => ({
    data: { user: u.username },
    cells: [
      { text: u.username },
      { text: size(u.used) },
      { text: size(u.quota) },
      { text: u.deleted_at ? "deleted" : u.delete_after ? "deleting" : u.disabled_at ? "disabled" : "active" },
    ],
  })));
}

function every(ms, work) {
  const run = async () => {
    try {
      await work();
      status("Updated " + new Date().toLocaleTimeString(), false);
    } catch (e) {
      status("Could not update: " + e.message, true);
    }
    setTimeout(run, ms);
  };
  run();
}

every(FAST_MS, remotes);
every(SLOW_MS, async () => { await health(); await users(); });

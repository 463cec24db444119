// SwarmOps web UI: a little JavaScript on top of pages that work without
// it. It adds confirmation dialogs, copy buttons, keyboard shortcuts and
// live updates: a page follows its cluster's event stream and re-renders
// only the rows that changed, without a reload.
"use strict";

(function () {
  const SwarmOps = (window.SwarmOps = window.SwarmOps || {});

  function csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }
  SwarmOps.csrf = csrf;

  // ---- Notes in the top bar ("reconnecting…"), never a modal ----
  let noteTimer = null;
  function note(text, sticky) {
    const el = document.getElementById("live-note");
    if (!el) return;
    clearTimeout(noteTimer);
    el.textContent = text;
    el.hidden = !text;
    if (text && !sticky) noteTimer = setTimeout(() => (el.hidden = true), 4000);
  }
  SwarmOps.note = note;

  // ---- Confirmation: forms with data-confirm ask first ----
  function setupConfirm() {
    const dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return;
    let pending = null;
    document.addEventListener("submit", (ev) => {
      const form = ev.target;
      if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
      if (form.dataset.confirmed === "1") {
        delete form.dataset.confirmed;
        return;
      }
      ev.preventDefault();
      pending = { form, submitter: ev.submitter };
      dialog.querySelector("#confirm-text").textContent = form.dataset.confirm;
      const ok = dialog.querySelector("[data-dialog-ok]");
      ok.textContent = form.dataset.confirmButton || "Confirm";
      dialog.showModal();
      ok.focus();
    });
    dialog.querySelector("[data-dialog-ok]").addEventListener("click", () => {
      dialog.close();
      if (!pending) return;
      let { form, submitter } = pending;
      pending = null;
      if (!form.isConnected) {
        // A live update replaced it while the dialog was open: the same
        // action's form is the one to send.
        const again = document.querySelector('form[action="' + CSS.escape(form.getAttribute("action")) + '"]');
        if (!again) return;
        form = again;
        submitter = undefined;
      }
      form.dataset.confirmed = "1";
      if (typeof form.requestSubmit === "function") form.requestSubmit(submitter || undefined);
      else form.submit();
    });
    dialog.querySelector("[data-dialog-cancel]").addEventListener("click", () => {
      pending = null;
      dialog.close();
    });
    dialog.addEventListener("cancel", () => (pending = null)); // Escape
  }

  // ---- Small behaviours ----
  function setupBehaviours() {
    document.addEventListener("change", (ev) => {
      const el = ev.target;
      if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
    });
    document.addEventListener("click", (ev) => {
      const btn = ev.target instanceof Element ? ev.target.closest("[data-copy]") : null;
      if (!btn) return;
      const src = document.getElementById(btn.dataset.copy);
      if (!src) return;
      const text = src.value !== undefined && src.tagName !== "PRE" ? src.value : src.textContent;
      const done = () => {
        const old = btn.textContent;
        btn.textContent = "Copied";
        setTimeout(() => (btn.textContent = old), 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, () => selectText(src));
      } else {
        selectText(src);
        try {
          document.execCommand("copy");
          done();
        } catch (e) {
          /* the text stays selected for the user to copy */
        }
      }
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
      const t = ev.target;
      if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
      if (t instanceof HTMLElement && t.isContentEditable) return;
      const dialog = document.getElementById("confirm-dialog");
      if (dialog && dialog.open) return;
      const search = document.querySelector("[data-hotkey='/']");
      if (search) {
        ev.preventDefault();
        search.focus();
        if (search.select) search.select();
      }
    });
    // Search forms tell the server this browser fills in late answers
    // (js=1), so it need not wait for the slowest swarm; the address
    // shown drops it again, so that a copied link works without script.
    document.querySelectorAll("form[data-js-hint]").forEach((form) => {
      if (form.querySelector('input[name="js"]')) return;
      const hint = document.createElement("input");
      hint.type = "hidden";
      hint.name = "js";
      hint.value = "1";
      form.appendChild(hint);
    });
    const here = new URL(window.location.href);
    if (here.searchParams.get("js") === "1" && window.history.replaceState) {
      here.searchParams.delete("js");
      window.history.replaceState(window.history.state, "", here.pathname + here.search + here.hash);
    }
    const summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  function selectText(el) {
    if (el.select) {
      el.select();
      return;
    }
    const r = document.createRange();
    r.selectNodeContents(el);
    const s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
  }

  // ---- Sortable tables: th[data-sort] sorts by the cells' data-v or text ----
  function setupSort(root) {
    (root || document).querySelectorAll("table[data-sortable] th[data-sort]").forEach((th) => {
      if (th.querySelector("button.sort")) return;
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "sort";
      btn.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(btn);
      btn.addEventListener("click", () => {
        const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        th.closest("table").querySelectorAll("th[aria-sort]").forEach((o) => o.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", dir);
        sortTable(th.closest("table"));
      });
    });
  }

  // sortTable orders a table's rows by its th[aria-sort], if any.
  function sortTable(table) {
    const th = table.querySelector("th[aria-sort]");
    if (!th || !table.tBodies[0]) return;
    const idx = Array.prototype.indexOf.call(th.parentNode.children, th);
    const dir = th.getAttribute("aria-sort");
    const num = th.dataset.sort === "num";
    const key = (r) => {
      const cell = r.cells[idx];
      const v = cell ? cell.dataset.v || cell.textContent.trim() : "";
      return num ? parseFloat(v) || 0 : v.toLowerCase();
    };
    const tbody = table.tBodies[0];
    Array.from(tbody.rows)
      .sort((a, b) => {
        const x = key(a), y = key(b);
        const c = x < y ? -1 : x > y ? 1 : 0;
        return dir === "ascending" ? c : -c;
      })
      .forEach((r) => tbody.appendChild(r));
  }

  // ---- Late answers: elements with data-fill="<url>" (an id each) are
  // replaced by the element of the same id in that page, once. ----
  function setupFill(root) {
    (root || document).querySelectorAll("[data-fill][id]").forEach((el) => fill(el));
  }

  async function fill(el) {
    const url = el.dataset.fill;
    const say = (text) => {
      const at = el.querySelector("[data-fill-note]") || el;
      at.textContent = text;
      el.removeAttribute("aria-busy");
    };
    try {
      const resp = await fetch(url, {
        headers: { "X-SwarmOps-Live": "1" },
        credentials: "same-origin",
        redirect: "manual",
      });
      if (resp.type === "opaqueredirect" || resp.status === 401) {
        note("Your session ended; reload to log in again.", true);
        say("Your session ended; reload to log in again.");
        return;
      }
      if (!resp.ok) {
        say("This answer could not be loaded (status " + resp.status + "); reload to try again.");
        return;
      }
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      const next = doc.getElementById(el.id);
      if (!next || !el.isConnected) return;
      if (next.dataset.fill === url) next.removeAttribute("data-fill"); // never ask twice
      const imported = document.importNode(next, true);
      el.replaceWith(imported);
      setupSort(imported);
      setupFill(imported);
      if (imported.dataset.fill) fill(imported);
      document.dispatchEvent(new CustomEvent("swarmops:filled", { detail: { id: imported.id } }));
    } catch (e) {
      say("This answer could not be loaded; reload to try again.");
    }
  }
  SwarmOps.fill = fill;

  // ---- The swarm's leader: a page shown while the swarm has none
  // (main[data-waits], its buttons disabled) reloads when it has one
  // again, unless someone is typing. ----
  function onSwarm(ev) {
    let action = "";
    try {
      action = JSON.parse(ev.data).action || "";
    } catch (e) {
      return;
    }
    const main = document.getElementById("main");
    const waiting = main && main.hasAttribute("data-waits");
    const active = document.activeElement;
    const typing = active && ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName) && active.id !== "global-search";
    if (action === "leader_elected" && waiting) {
      if (typing) note("The swarm has a leader again: reload to make changes.", true);
      else window.location.reload();
    } else if ((action === "electing" || action === "no_quorum") && !waiting) {
      note("The swarm has no leader: changes wait until it elects one.", true);
      refreshSoon();
    }
  }

  // ---- Live updates ----
  // A page marks what may change with data-live-region (an id each) and
  // rows with an id. On an event (debounced), it fetches itself again and
  // swaps in the rows whose HTML changed, marking them briefly. A tab
  // holds at most one stream: the event stream closes while the tab is
  // hidden, or while another stream (a log viewer) runs.
  const live = {
    source: null,
    paused: 0,
    timer: null,
    inflight: false,
    again: false,
    broken: false,
    backoff: 5000,
  };

  function liveURL() {
    return document.body.dataset.liveUrl || window.location.pathname + window.location.search;
  }

  function refreshSoon(delay) {
    clearTimeout(live.timer);
    live.timer = setTimeout(refresh, delay === undefined ? 600 : delay);
  }

  async function refresh() {
    if (live.inflight) {
      live.again = true;
      return;
    }
    live.inflight = true;
    try {
      const resp = await fetch(liveURL(), {
        headers: { "X-SwarmOps-Live": "1" },
        credentials: "same-origin",
        redirect: "manual",
      });
      if (resp.type === "opaqueredirect" || resp.status === 401) {
        note("Your session ended; reload to log in again.", true);
        return;
      }
      if (!resp.ok) {
        note("Live update failed (" + resp.status + "); retrying.", false);
        return;
      }
      const html = await resp.text();
      // A hidden tab follows nothing: it refreshes when shown again.
      if (document.hidden && document.body.dataset.live) return;
      const doc = new DOMParser().parseFromString(html, "text/html");
      applyRegions(doc);
      document.dispatchEvent(new CustomEvent("swarmops:refreshed"));
    } catch (e) {
      note("Live update failed; retrying.", false);
    } finally {
      live.inflight = false;
      if (live.again) {
        live.again = false;
        refreshSoon();
      }
    }
  }
  SwarmOps.refresh = refresh;

  function applyRegions(doc) {
    const dialog = document.getElementById("confirm-dialog");
    if (dialog && dialog.open) {
      // Never pull a form away from under its confirmation: try again
      // when the dialog closes.
      dialog.addEventListener("close", () => refreshSoon(0), { once: true });
      return;
    }
    document.querySelectorAll("[data-live-region]").forEach((cur) => {
      const next = doc.getElementById(cur.id);
      if (!next) return;
      const active = document.activeElement;
      if (active && cur.contains(active) && ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName)) {
        return; // never pull a field away from someone typing in it
      }
      const curBody = cur.querySelector("tbody");
      const nextBody = next.querySelector("tbody");
      if (curBody && nextBody && shell(cur) === shell(next)) {
        swapRows(curBody, nextBody);
        const table = curBody.closest("table");
        if (table) sortTable(table);
      } else if (shell(cur) !== shell(next)) {
        const sorted = cur.querySelector("th[aria-sort]");
        const sortCol = sorted ? sorted.textContent : null;
        const sortDir = sorted ? sorted.getAttribute("aria-sort") : null;
        cur.innerHTML = next.innerHTML;
        setupSort(cur);
        if (sortCol) {
          cur.querySelectorAll("th[data-sort]").forEach((th) => {
            if (th.textContent === sortCol) {
              th.setAttribute("aria-sort", sortDir);
              sortTable(th.closest("table"));
            }
          });
        }
        // No flash here: a region re-drawn whole (its relative times
        // moved on) would blink every refresh; rows flash one by one.
      }
    });
  }

  function flash(el) {
    el.classList.add("changed");
    setTimeout(() => el.classList.remove("changed"), 2000);
  }

  // shell is a region's HTML as the server wrote it, without its table
  // rows: the sort buttons and marks this script added are taken out.
  function shell(el) {
    const c = el.cloneNode(true);
    c.querySelectorAll("tbody").forEach((b) => (b.innerHTML = ""));
    c.querySelectorAll("th button.sort").forEach((btn) => btn.replaceWith(btn.textContent));
    c.querySelectorAll("th[aria-sort]").forEach((th) => th.removeAttribute("aria-sort"));
    c.querySelectorAll(".changed").forEach((e) => e.classList.remove("changed"));
    c.classList.remove("changed");
    return c.innerHTML;
  }

  // served keeps the HTML each row had from the server, so a row marked
  // as changed (for two seconds) still compares equal to itself.
  const served = new WeakMap();

  function swapRows(curBody, nextBody) {
    const old = new Map();
    Array.from(curBody.rows).forEach((r) => {
      if (!served.has(r)) served.set(r, r.outerHTML);
      old.set(r.id, r);
    });
    const wanted = [];
    Array.from(nextBody.rows).forEach((n) => {
      const o = n.id ? old.get(n.id) : null;
      if (o && served.get(o) === n.outerHTML) {
        wanted.push(o);
      } else {
        const imported = document.importNode(n, true);
        served.set(imported, n.outerHTML);
        flash(imported);
        wanted.push(imported);
      }
    });
    // Replace in place, keeping unchanged row nodes (and anything a
    // script attached to them).
    wanted.forEach((r, i) => {
      const at = curBody.rows[i];
      if (at !== r) curBody.insertBefore(r, at || null);
    });
    while (curBody.rows.length > wanted.length) curBody.deleteRow(wanted.length);
  }

  function connect() {
    const url = document.body.dataset.live;
    if (!url || !document.querySelector("[data-live-region]")) return; // nothing on the page follows
    if (live.source || live.paused > 0 || document.hidden) return;
    const es = new EventSource(url, { withCredentials: true });
    live.source = es;
    es.onopen = () => {
      live.backoff = 5000;
      if (live.broken) {
        live.broken = false;
        note("Live updates reconnected.", false);
        refreshSoon(0); // catch up on what happened while away
      }
    };
    es.onmessage = () => refreshSoon();
    ["service", "node", "task", "network", "secret", "config", "stream"].forEach((t) =>
      es.addEventListener(t, () => refreshSoon())
    );
    es.addEventListener("swarm", onSwarm);
    es.onerror = () => {
      live.broken = true;
      note("Live updates lost; reconnecting…", true);
      if (es.readyState === EventSource.CLOSED) {
        // The server refused (the session ended, the instance is
        // stopping): try again later, less and less often.
        disconnect();
        setTimeout(connect, live.backoff);
        live.backoff = Math.min(live.backoff * 2, 60000);
      }
    };
  }

  function disconnect() {
    clearTimeout(live.timer);
    if (live.source) {
      live.source.close();
      live.source = null;
    }
  }

  // pause and resume let another stream (the log viewer) take the tab's
  // one stream.
  SwarmOps.live = {
    pause() {
      live.paused++;
      disconnect();
    },
    resume() {
      live.paused = Math.max(0, live.paused - 1);
      if (live.paused === 0) {
        connect();
        refreshSoon(0);
      }
    },
    connected() {
      return !!live.source;
    },
  };

  function setupLive() {
    if (!document.querySelector("[data-live-region]")) return;
    const every = parseInt(document.body.dataset.refresh || "0", 10);
    if (every > 0) {
      // Pages without an event stream (the fleet) poll; the first poll
      // comes at once, to replace last-known values with fresh ones.
      refreshSoon(0);
      setInterval(() => {
        if (!document.hidden) refreshSoon(0);
      }, every * 1000);
    }
    connect();
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        disconnect();
      } else {
        connect();
        if (document.body.dataset.live || every > 0) refreshSoon(0);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupConfirm();
    setupBehaviours();
    setupSort();
    setupFill();
    setupLive();
  });
})();

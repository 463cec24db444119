// SwarmOps log viewer, on a service's page. The page already shows the
// last lines (rendered by the server, so it works without JavaScript);
// this script loads more, follows new lines as they come, filters them,
// and scrolls with them unless the reader scrolled up.
//
// A tab holds at most one stream: while the viewer fetches, the page's
// live updates are paused (SwarmOps.live.pause/resume, from app.js) and
// the page's live regions are refreshed by a short fetch every few
// seconds instead. The viewer stops while the tab is hidden.
"use strict";

(function () {
  const view = document.getElementById("logview");
  if (!view || !view.dataset.src) return;
  const $ = (id) => document.getElementById(id);
  const bar = $("logbar");
  const follow = $("log-follow");
  const tail = $("log-tail");
  const since = $("log-since");
  const stamps = $("log-ts");
  const filter = $("log-filter");
  const status = $("log-status");
  const jump = $("log-jump");

  const MAX_LINES = 5000; // older lines are dropped from the view
  const POLL_MS = 10000; // live regions while following
  const NEW_AFTER_MS = 800; // lines after this are new, not the tail

  let ctrl = null; // the running fetch's AbortController
  let holding = false; // live updates paused by us
  let poll = null;
  let resumeOnShow = false;

  const SO = () => window.SwarmOps || {};

  function hold() {
    if (holding) return;
    holding = true;
    if (SO().live) SO().live.pause();
  }
  function release() {
    if (!holding) return;
    holding = false;
    if (SO().live) SO().live.resume();
  }
  function setStatus(text) {
    status.textContent = text;
  }

  function stop() {
    if (ctrl) {
      ctrl.abort();
      ctrl = null;
    }
    clearInterval(poll);
    poll = null;
    release();
  }

  // ---- Lines ----
  // A line may start with the engine's timestamp and a tag naming its
  // task and node ("web.1.abc@node-1 | "), as docker service logs
  // prints them.
  const tsRE = /^(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d))\s/;
  const tagRE = /^(\S+@\S+)\s+\|\s?/;

  function lineNode(text, fresh) {
    const el = document.createElement("span");
    el.className = "line";
    let rest = text;
    let m = tsRE.exec(rest);
    if (m) {
      el.appendChild(part("ts", m[1]));
      rest = rest.slice(m[0].length);
    }
    m = tagRE.exec(rest);
    if (m) {
      el.appendChild(part("tag", m[1]));
      rest = rest.slice(m[0].length);
    }
    el.appendChild(document.createTextNode(rest));
    if (fresh) {
      el.classList.add("new");
      setTimeout(() => el.classList.remove("new"), 2500);
    }
    matchFilter(el);
    return el;
  }

  function part(cls, text) {
    const s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function note(text) {
    const el = part("line note", text);
    append([el]);
  }

  function atBottom() {
    return view.scrollHeight - view.scrollTop - view.clientHeight < 40;
  }

  function toBottom() {
    view.scrollTop = view.scrollHeight;
    jump.hidden = true;
  }

  function append(nodes) {
    if (!nodes.length) return;
    const stick = atBottom();
    const frag = document.createDocumentFragment();
    nodes.forEach((n) => frag.appendChild(n));
    view.appendChild(frag);
    while (view.childElementCount > MAX_LINES) view.removeChild(view.firstElementChild);
    if (stick) toBottom();
    else jump.hidden = false;
  }

  function matchFilter(el) {
    const want = filter.value.trim().toLowerCase();
    const hit = !want || el.classList.contains("note") || el.textContent.toLowerCase().includes(want);
    el.classList.toggle("hit-hidden", !hit);
  }

  // ---- The stream: server-sent events read with fetch ----
  async function start() {
    stop();
    if (document.hidden) {
      resumeOnShow = follow.checked;
      return;
    }
    const c = new AbortController();
    ctrl = c;
    const q = new URLSearchParams({ tail: tail.value });
    if (since.value) q.set("since", since.value);
    if (stamps.checked) q.set("timestamps", "true");
    if (follow.checked) q.set("follow", "true");
    hold();
    if (follow.checked) {
      poll = setInterval(() => {
        if (!document.hidden && SO().refresh) SO().refresh();
      }, POLL_MS);
    }
    setStatus(follow.checked ? "Connecting…" : "Loading…");
    const began = Date.now();
    let count = 0;
    try {
      const resp = await fetch(view.dataset.src + "?" + q.toString(), {
        headers: { Accept: "text/event-stream" },
        credentials: "same-origin",
        signal: c.signal,
      });
      if (!resp.ok) {
        setStatus("");
        view.textContent = "";
        note("The log could not be read: " + (await errorText(resp)));
        return;
      }
      view.textContent = "";
      jump.hidden = true;
      setStatus(follow.checked ? "Following" : "");
      const origin = $("log-origin");
      if (origin) {
        origin.textContent = follow.checked
          ? "Following: new lines appear as the engine sends them."
          : "The lines chosen above, as loaded just now.";
      }
      const reader = resp.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      let event = "";
      let data = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        const batch = [];
        const fresh = Date.now() - began > NEW_AFTER_MS;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          let line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.endsWith("\r")) line = line.slice(0, -1);
          if (line === "") {
            if (data.length) {
              const text = data.join("\n");
              if (event === "error") batch.push(part("line note", "The stream ended: " + text));
              else if (event === "end") batch.push(part("line note", "The stream ended: " + text));
              else {
                batch.push(lineNode(text, fresh));
                count++;
              }
            }
            event = "";
            data = [];
            continue;
          }
          if (line.startsWith(":")) continue; // a comment: stream open, ping
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? "" : line.slice(colon + 1);
          if (val.startsWith(" ")) val = val.slice(1);
          if (field === "data") data.push(val);
          else if (field === "event") event = val;
        }
        append(batch);
      }
      if (ctrl === c) {
        if (!count) note("No log lines in this window.");
        if (follow.checked) {
          note("The log stream ended. Turn Follow off and on to reconnect.");
          follow.checked = false;
        }
        setStatus(count + " line" + (count === 1 ? "" : "s"));
      }
    } catch (e) {
      if (e && e.name === "AbortError") return;
      if (ctrl === c) {
        note("The log stream broke. Turn Follow on to reconnect.");
        follow.checked = false;
        setStatus("");
      }
    } finally {
      if (ctrl === c) {
        ctrl = null;
        clearInterval(poll);
        poll = null;
        release();
      }
    }
  }

  async function errorText(resp) {
    try {
      const body = await resp.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) {
      /* not JSON */
    }
    return "HTTP " + resp.status;
  }

  // ---- Controls ----
  bar.hidden = false;
  follow.addEventListener("change", () => {
    if (follow.checked) start();
    else {
      stop();
      setStatus("Paused");
    }
  });
  [tail, since, stamps].forEach((el) => el.addEventListener("change", start));
  filter.addEventListener("input", () => {
    view.querySelectorAll(".line").forEach(matchFilter);
  });
  view.addEventListener("scroll", () => {
    if (atBottom()) jump.hidden = true;
  });
  jump.addEventListener("click", toBottom);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      if (ctrl) {
        resumeOnShow = follow.checked;
        stop();
        setStatus(resumeOnShow ? "Paused while the tab is hidden" : "");
      }
    } else if (resumeOnShow) {
      resumeOnShow = false;
      start();
    }
  });
  window.addEventListener("pagehide", stop);

  // The server's lines get the same look as streamed ones.
  const first = Array.from(view.querySelectorAll(".line:not(.note)"));
  first.forEach((el) => el.replaceWith(lineNode(el.textContent, false)));
  toBottom();

  // What the tests (and a curious reader) can ask.
  const SOobj = (window.SwarmOps = window.SwarmOps || {});
  SOobj.logs = {
    streaming() {
      return !!ctrl;
    },
    start,
    stop,
  };
})();

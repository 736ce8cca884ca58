// kiln console: the page of an active run, or of a cluster, updates itself.
//
// The page works without scripts: its Refresh link reloads it. With
// scripts, every few seconds the page is fetched again and the part that
// changes ([data-live], whose value names what it shows) is replaced by
// the fresh copy, while its data-active is "true" (a run: until it
// ends). Focus and the scroll position of logs are kept, and a change of
// its state is announced to screen readers.
//
// Updates pause while a dialog is open (Cancel run's confirmation stays
// put), while the tab is hidden, and after ten minutes without input: each
// update is a request that keeps the session alive, so an unattended page
// must not hold it open forever. Input resumes them.
"use strict";

(function () {
  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch || !window.DOMParser) {
    return;
  }
  var every = Math.max(1, parseInt(live.dataset.refreshSeconds, 10) || 3) * 1000;
  var idleLimit = 10 * 60 * 1000;
  var note = document.querySelector("[data-refresh-note]");
  var status = document.querySelector("[data-live-status]");
  var lastInput = Date.now();
  var timer = 0;
  var failures = 0;
  var stopped = false;

  function active() { return live.dataset.active === "true" && !stopped; }
  function idle() { return Date.now() - lastInput > idleLimit; }

  function showNote() {
    if (note) { note.hidden = !active(); }
  }

  function schedule(delay) {
    clearTimeout(timer);
    if (active()) { timer = setTimeout(update, delay || every); }
  }

  // focusables lists what can hold the focus in the live region, to put
  // the focus back on the same control after an update.
  function focusables(root) {
    return Array.prototype.slice.call(root.querySelectorAll("a[href], button, pre[tabindex]"));
  }

  function swap(fresh) {
    var before = live.dataset.state;
    var focused = document.activeElement;
    var mark = null;
    if (focused && live.contains(focused)) {
      mark = { id: focused.id, text: focused.textContent, index: focusables(live).indexOf(focused) };
    }
    var scrolls = {};
    live.querySelectorAll("pre[id]").forEach(function (pre) {
      scrolls[pre.id] = { top: pre.scrollTop, end: pre.scrollHeight - pre.scrollTop - pre.clientHeight < 4 };
    });

    live.innerHTML = fresh.innerHTML;
    live.dataset.active = fresh.dataset.active;
    live.dataset.state = fresh.dataset.state;

    Object.keys(scrolls).forEach(function (id) {
      var pre = document.getElementById(id);
      if (pre) { pre.scrollTop = scrolls[id].end ? pre.scrollHeight : scrolls[id].top; }
    });
    if (mark) {
      var all = focusables(live);
      var target = (mark.id && document.getElementById(mark.id)) ||
        (all[mark.index] && all[mark.index].textContent === mark.text ? all[mark.index] : null) ||
        all.filter(function (el) { return el.textContent === mark.text; })[0];
      if (target) {
        target.focus({ preventScroll: true });
      }
    }
    if (status && live.dataset.state !== before) {
      status.textContent = "The " + (live.dataset.live || "page") + " is now " + live.dataset.state + ".";
    }
    showNote();
  }

  function update() {
    if (!active() || idle() || document.hidden) {
      return; // input or the tab coming back resumes
    }
    if (document.querySelector("dialog[open]")) {
      schedule();
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (resp.redirected) {
          // Signed out: the Refresh link leads to sign-in.
          stopped = true;
          showNote();
          throw new Error("redirected");
        }
        if (!resp.ok) {
          throw new Error("HTTP " + resp.status);
        }
        return resp.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live]");
        if (!fresh) {
          throw new Error("no live region in the page");
        }
        failures = 0;
        if (!document.querySelector("dialog[open]")) {
          swap(fresh);
        }
        schedule();
      })
      .catch(function () {
        failures++;
        if (failures <= 5) {
          schedule(every * failures * 2);
        }
      });
  }

  ["keydown", "pointerdown", "wheel", "touchstart"].forEach(function (type) {
    document.addEventListener(type, function () {
      var wasIdle = idle();
      lastInput = Date.now();
      if (wasIdle) { schedule(1); }
    }, { passive: true });
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { schedule(1); }
  });

  showNote();
  schedule();
})();

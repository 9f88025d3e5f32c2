/* 连心 Lianxin — optional progressive enhancement. Everything works without it.
   Loaded as an external file (CSP: script-src 'self'); no inline handlers.
   - data-confirm="…" on a <form>, a submit <button>, or an <a>: ask before proceeding.
   - .flash messages fade out after 6 s (except .flash.error and [data-persist]).
   - The header's unread badge ([data-unread]) is filled from /api/v1/notify/unread
     and kept current by the live stream /api/v1/notify/stream (Server-Sent Events). */
(function () {
  "use strict";
  var lastSubmitter = null;

  // Remember which submit button was used (fallback for browsers without SubmitEvent.submitter).
  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target.closest("button, input[type=submit], a[data-confirm]") : null;
    if (!t) return;
    if (t.tagName === "A") {
      if (!window.confirm(t.getAttribute("data-confirm"))) e.preventDefault();
      return;
    }
    if (t.type === "submit") lastSubmitter = t;
  }, true);

  document.addEventListener("submit", function (e) {
    var form = e.target;
    var btn = e.submitter || (lastSubmitter && lastSubmitter.form === form ? lastSubmitter : null);
    lastSubmitter = null;
    var msg = (btn && btn.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var flashes = document.querySelectorAll(".flash:not(.error):not([data-persist])");
  Array.prototype.forEach.call(flashes, function (el) {
    window.setTimeout(function () {
      if (el.contains(document.activeElement)) return; // don't yank focused content
      el.classList.add("is-hiding");
      window.setTimeout(function () { el.hidden = true; }, reduced ? 0 : 450);
    }, 6000);
  });
  // Unread notifications: fetch the count once (unless the page rendered it),
  // then follow the live stream. Without JS the header links to /inbox.
  var badge = document.querySelector("[data-unread]");
  function showUnread(n) {
    if (!badge || typeof n !== "number") return;
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.hidden = !(n > 0);
  }
  if (badge && window.fetch && !badge.hasAttribute("data-known")) {
    window.fetch("/api/v1/notify/unread", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (v) { if (v) showUnread(v.unread); })
      .catch(function () {});
  }
  if (badge && window.EventSource) {
    var live = new window.EventSource("/api/v1/notify/stream");
    var fresh = document.querySelector("[data-inbox-new]");
    // A page that shows one object (a demand) refreshes its live parts when
    // a notice about that object arrives, without a reload.
    var watched = document.querySelector("[data-live-object]");
    function refreshWatched() {
      if (!window.fetch || !window.DOMParser) return;
      window.fetch(window.location.pathname, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new window.DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live-part]").forEach(function (el) {
            var part = doc.querySelector('[data-live-part="' + el.getAttribute("data-live-part") + '"]');
            if (part) el.innerHTML = part.innerHTML;
          });
        })
        .catch(function () {});
    }
    live.addEventListener("notification", function (e) {
      var item;
      try { item = JSON.parse(e.data); showUnread(item.unread); } catch (_) { return; }
      if (fresh) fresh.hidden = false;
      if (watched && item.object_id === watched.getAttribute("data-live-object")) refreshWatched();
    });
    live.addEventListener("unread", function (e) {
      try { showUnread(JSON.parse(e.data).unread); } catch (_) {}
    });
    window.addEventListener("pagehide", function () { live.close(); });
  }
})();

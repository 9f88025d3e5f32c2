/* 连心 Lianxin — optional progressive enhancement. Everything works without it.
   Loaded as an external file (CSP: script-src 'self'); no inline handlers.
   - data-confirm="…" on a <form>, a submit <button>, or an <a>: ask before proceeding.
   - .flash messages fade out after 6 s (except .flash.error and [data-persist]).
   - The header's unread badge ([data-unread]) is filled from /api/v1/notify/unread
     and kept current by the live stream /api/v1/notify/stream (Server-Sent Events).
   - A page that shows one object ([data-live-object]) or a list ([data-live-list]) refreshes
     its [data-live-part] elements when a notice arrives, without a reload.
   - Uploads (a multipart form with a file chosen) show their progress; downloads of
     exports (a[data-export], or a GET form[data-export]) show a progress bar while the
     file is prepared, the link or button marked busy. */
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
    var list = document.querySelector("[data-live-list]");
    function refreshWatched() {
      if (!window.fetch || !window.DOMParser) return;
      window.fetch(window.location.pathname + window.location.search, { credentials: "same-origin" })
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
      if (list || (watched && item.object_id === watched.getAttribute("data-live-object"))) refreshWatched();
    });
    live.addEventListener("unread", function (e) {
      try { showUnread(JSON.parse(e.data).unread); } catch (_) {}
    });
    window.addEventListener("pagehide", function () { live.close(); });
  }

  // Progress: a <progress> bar and a live status line after `anchor`.
  // The words for progress, in the page's language (set on <body>).
  var root = document.body;
  function progressBar(anchor, label) {
    var box = document.createElement("div");
    box.className = "progress";
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    var bar = document.createElement("progress");
    bar.max = 100;
    var text = document.createElement("span");
    text.textContent = label;
    box.appendChild(bar);
    box.appendChild(text);
    anchor.parentNode.insertBefore(box, anchor.nextSibling);
    return {
      set: function (loaded, total) {
        if (total > 0) {
          var pct = Math.round(loaded * 100 / total);
          bar.value = pct;
          text.textContent = label + " " + pct + "%";
        }
      },
      fail: function (msg) { box.className = "progress flash error"; text.textContent = msg; bar.hidden = true; },
      done: function () { if (box.parentNode) box.parentNode.removeChild(box); }
    };
  }

  // Uploads: send with XMLHttpRequest to show the bytes going up, then show
  // what the server answered (follow its redirect, or render its page).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || !window.XMLHttpRequest || !window.FormData) return;
    if ((form.getAttribute("enctype") || "").indexOf("multipart") < 0) return;
    var chosen = Array.prototype.some.call(form.querySelectorAll("input[type=file]"), function (i) {
      return i.files && i.files.length > 0;
    });
    if (!chosen) return;
    e.preventDefault();
    var button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    var p = progressBar(button ? button.parentNode : form, root.getAttribute("data-uploading") || "…");
    var xhr = new window.XMLHttpRequest();
    xhr.open((form.getAttribute("method") || "post").toUpperCase(), form.action);
    xhr.upload.addEventListener("progress", function (ev) { if (ev.lengthComputable) p.set(ev.loaded, ev.total); });
    xhr.addEventListener("load", function () {
      var target = xhr.responseURL || form.action;
      if (target.split("#")[0] !== form.action.split("#")[0] && xhr.status < 400) {
        window.location.assign(target);
        return;
      }
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () {
      if (button) button.disabled = false;
      p.fail(root.getAttribute("data-upload-failed") || "!");
    });
    xhr.send(new window.FormData(form));
  });

  // Exports: fetch the file with a progress bar, then hand it over as a
  // download; without JS (or on any trouble) the link downloads as usual.
  // A GET form marked data-export (a report for a chosen month) does the same
  // with its fields as the query; its button is busy meanwhile.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || !form.hasAttribute("data-export") || (form.getAttribute("method") || "get").toLowerCase() !== "get") return;
    if (!window.fetch || !window.URL || !window.Blob || !window.URLSearchParams || !window.FormData) return;
    e.preventDefault();
    var button = form.querySelector("[type=submit]");
    var query = new window.URLSearchParams(new window.FormData(form)).toString();
    download(button || form, form.action.split("?")[0] + (query ? "?" + query : ""), form.getAttribute("data-export"));
  });
  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a[data-export]") : null;
    if (!a || e.defaultPrevented || !window.fetch || !window.URL || !window.Blob || a.hasAttribute("aria-busy")) return;
    e.preventDefault();
    download(a, a.href, a.getAttribute("data-export"));
  });
  function download(a, href, fallbackName) {
    if (a.hasAttribute("aria-busy")) return;
    a.setAttribute("aria-busy", "true");
    if (a.tagName === "BUTTON") a.disabled = true;
    var p = progressBar(a, root.getAttribute("data-exporting") || "…");
    window.fetch(href, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      var total = Number(r.headers.get("Content-Length")) || 0;
      var name = (/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(r.headers.get("Content-Disposition") || "") || [])[1];
      if (!r.body || !r.body.getReader) return r.blob().then(function (b) { return [b, name]; });
      var reader = r.body.getReader(), chunks = [], loaded = 0;
      function pump() {
        return reader.read().then(function (c) {
          if (c.done) return [new window.Blob(chunks, { type: r.headers.get("Content-Type") || "" }), name];
          chunks.push(c.value);
          loaded += c.value.length;
          p.set(loaded, total);
          return pump();
        });
      }
      return pump();
    }).then(function (got) {
      var url = window.URL.createObjectURL(got[0]);
      var link = document.createElement("a");
      link.href = url;
      link.download = got[1] ? decodeURIComponent(got[1]) : (fallbackName || "export.xlsx");
      document.body.appendChild(link);
      link.click();
      document.body.removeChild(link);
      window.setTimeout(function () { window.URL.revokeObjectURL(url); }, 10000);
      p.done();
    }).catch(function () {
      p.done();
      window.location.assign(href);
    }).then(function () {
      a.removeAttribute("aria-busy");
      if (a.tagName === "BUTTON") a.disabled = false;
    });
  }
})();

/* 连心 Lianxin — optional progressive enhancement. Everything works without it.
   Loaded as an external file (CSP: script-src 'self'); no inline handlers.
   - data-confirm="…" on a <form>, a submit <button>, or an <a>: ask before proceeding.
   - .flash messages fade out after 6 s (except .flash.error and [data-persist]). */
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
})();

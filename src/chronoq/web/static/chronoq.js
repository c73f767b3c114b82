// chronoq dashboard: what htmx does not do. No inline script anywhere: the CSP
// allows scripts from this origin only, so everything the pages need is here.
(function () {
  "use strict";

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  }

  // The session's form token on every htmx request (the CSRF header).
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = meta("chronoq-csrf");
  });

  // A refused or bad action answers with a message for the flash slot
  // (HX-Retarget: #flash): show it rather than drop it as htmx does errors.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Typed confirmation: the button stays disabled until the word is typed.
  function wireConfirm(form) {
    var word = form.getAttribute("data-confirm-word");
    var input = form.querySelector('input[name="confirm"]');
    var button = form.querySelector("[data-confirm-button]");
    if (!input || !button) return;
    var check = function () { button.disabled = input.value.trim() !== word; };
    input.addEventListener("input", check);
    check();
  }

  // "Copy as CLI" and other copy buttons.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try { document.execCommand("copy"); done(); } catch (e) { /* selected: copy by hand */ }
    }
  });

  // Live updates: one EventSource per tab, closed while the tab is hidden (the
  // server sends the current state when it reopens).
  var source = null;
  var held = {};  // slot id -> the newest fragment, held while the user works in it
  function swap(slot, html) {
    slot.innerHTML = html;
    if (window.htmx) window.htmx.process(slot);
  }
  function applyUpdate(event) {
    var fragments = JSON.parse(event.data);
    Object.keys(fragments).forEach(function (id) {
      var slot = document.getElementById(id);
      if (!slot) return;
      // Never replace a form under the user's hands (a typed reason, a button being
      // clicked): keep the update until focus leaves the slot.
      if (slot.contains(document.activeElement) && document.activeElement !== document.body) {
        held[id] = fragments[id];
        return;
      }
      swap(slot, fragments[id]);
    });
    document.body.setAttribute("data-live-updated", String(Date.now()));
  }
  document.addEventListener("focusout", function (event) {
    Object.keys(held).forEach(function (id) {
      var slot = document.getElementById(id);
      if (!slot || slot.contains(event.relatedTarget)) return;
      var html = held[id];
      delete held[id];
      swap(slot, html);
    });
  });
  function openLive() {
    var view = meta("chronoq-live");
    if (!view || source || document.hidden || !window.EventSource) return;
    source = new EventSource(meta("chronoq-base") + "/events?view=" + encodeURIComponent(view));
    source.addEventListener("update", applyUpdate);
    source.addEventListener("open", function () { document.body.setAttribute("data-live", "open"); });
  }
  function closeLive() {
    if (source) { source.close(); source = null; }
    document.body.setAttribute("data-live", "paused");
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) closeLive(); else openLive();
  });

  function start() {
    document.querySelectorAll("form[data-confirm-word]").forEach(wireConfirm);
    openLive();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

// The live séance: follows the meeting's event stream and refetches, through the server's
// access checks, the part of the page an event concerns. Events carry ids only. The
// recorder's decision form sends its draft as they type. Without this script the page
// refreshes itself (noscript).
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root || !window.EventSource || !window.fetch) { return; }
  var statusPanel = document.getElementById("live-status");
  var casePanel = document.getElementById("live-case");
  var connection = root.querySelector("[data-live-connection]");
  var isRecorder = root.getAttribute("data-recorder") === "1";
  var clockOffset = 0;

  function currentCase() {
    var current = casePanel.querySelector("[data-test=live-current]");
    return current ? current.getAttribute("data-case") : "";
  }

  // One fetch per panel at a time; an event arriving meanwhile fetches once more after.
  var loading = {};
  function refresh(name, url, target) {
    if (loading[name]) { loading[name] = "again"; return; }
    loading[name] = "busy";
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        var element = target();
        if (html !== null && element) {
          element.innerHTML = html;
          if (name === "case") { bindDraftForm(); }
          readClock();
        }
      })
      .catch(function () {})
      .then(function () {
        var again = loading[name] === "again";
        loading[name] = null;
        if (again) { refresh(name, url, target); }
      });
  }
  function refreshStatus() { refresh("status", root.getAttribute("data-status-url"), function () { return statusPanel; }); }
  function refreshCase() { refresh("case", root.getAttribute("data-case-url"), function () { return casePanel; }); }
  function refreshDraft() { refresh("draft", root.getAttribute("data-draft-url"), function () { return document.getElementById("live-draft"); }); }

  function handle(kind, event) {
    var data = {};
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (kind === "case") { refreshCase(); refreshStatus(); }
    else if (kind === "decision") { if (data["case"] === currentCase()) { refreshCase(); } refreshStatus(); }
    else if (kind === "draft") { if (!isRecorder && data["case"] === currentCase()) { refreshDraft(); } }
    else if (kind === "attendance") { refreshStatus(); }
    else if (kind === "recorder") { window.location.reload(); }
  }

  function show(text) {
    if (!connection) { return; }
    connection.textContent = text || "";
    connection.hidden = !text;
  }

  var source = new EventSource(root.getAttribute("data-events-url") + "?after=" + encodeURIComponent(root.getAttribute("data-after") || "0"));
  ["case", "decision", "draft", "attendance", "recorder"].forEach(function (kind) {
    source.addEventListener(kind, function (event) { handle(kind, event); });
  });
  source.onopen = function () { show(""); root.setAttribute("data-live", "open"); };
  source.onerror = function () {
    root.setAttribute("data-live", "lost");
    show(connection ? connection.getAttribute("data-text-lost") : "");
    // Refused rather than cut (session ended, no longer a member): the browser will not
    // retry; reloading shows why (the login page, or the error).
    if (source.readyState === EventSource.CLOSED) { setTimeout(function () { window.location.reload(); }, 3000); }
  };

  // The recorder's form: its draft goes to the server 700 ms after the last keystroke.
  var draftTimer = null;
  function bindDraftForm() {
    var form = casePanel.querySelector("form[data-draft-form]");
    if (!form || form.getAttribute("data-bound")) { return; }
    form.setAttribute("data-bound", "1");
    function send() {
      var body = new URLSearchParams(new FormData(form));
      fetch(form.getAttribute("data-draft-url"), { method: "POST", credentials: "same-origin", body: body })
        .then(function (response) { if (response.status === 409) { refreshCase(); } })
        .catch(function () {});
    }
    function schedule() {
      if (draftTimer) { clearTimeout(draftTimer); }
      draftTimer = setTimeout(send, 700);
    }
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
  }

  // The per-case clock, from the server's time at render.
  function readClock() {
    var list = statusPanel.querySelector("[data-now-ms]");
    if (list) { clockOffset = Number(list.getAttribute("data-now-ms")) - Date.now(); }
  }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var timers = statusPanel.querySelectorAll("[data-timer][data-since-ms]");
    for (var i = 0; i < timers.length; i++) {
      var timer = timers[i];
      var seconds = Number(timer.getAttribute("data-before")) + Math.max(0, (Date.now() + clockOffset - Number(timer.getAttribute("data-since-ms"))) / 1000);
      var whole = Math.floor(seconds);
      var value = timer.querySelector("[data-timer-value]");
      if (value) { value.textContent = Math.floor(whole / 60) + ":" + pad(whole % 60); }
      timer.classList.toggle("live-timer--over", seconds > Number(timer.getAttribute("data-slot")));
    }
  }
  readClock();
  bindDraftForm();
  setInterval(tick, 1000);
  // The page refreshes itself without JavaScript only: this script takes over.
})();

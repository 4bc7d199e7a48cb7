// Document upload with progress: each file is sent as its own request so the page can
// show how far each one got and what the server said. Without JavaScript the form
// posts every file at once and the server answers with a results page.
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var input = form.querySelector("input[type=file]");
  var list = form.querySelector("[data-upload-progress]");
  var csrf = form.querySelector("input[name=_csrf]").value;

  function line(name) {
    var item = document.createElement("li");
    var label = document.createElement("span");
    label.textContent = name + " ";
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    var note = document.createElement("span");
    note.className = "upload-note";
    item.appendChild(label); item.appendChild(bar); item.appendChild(note);
    list.appendChild(item);
    return { item: item, bar: bar, note: note };
  }

  function send(file, confirmTraits, view) {
    return new Promise(function (resolve) {
      var data = new FormData();
      data.append("_csrf", csrf);
      data.append("file", file, file.name);
      if (confirmTraits) { data.append("confirm_traits", "1"); }
      var request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRF-Token", csrf);
      request.upload.onprogress = function (event) {
        if (event.lengthComputable) { view.bar.value = Math.round(100 * event.loaded / event.total); }
      };
      request.onload = function () {
        var result = null;
        try { result = JSON.parse(request.responseText).results[0]; } catch (e) { result = null; }
        resolve(result || { status: "refused", messages: ["Erreur " + request.status] });
      };
      request.onerror = function () { resolve({ status: "refused", messages: ["Réseau indisponible : rien n'a été envoyé."] }); };
      request.send(data);
    });
  }

  function show(view, result) {
    view.bar.value = 100;
    view.item.className = "import-result import-result--" + result.status;
    view.item.setAttribute("data-status", result.status);
    view.note.textContent = " " + (result.messages || []).join(" ");
    if (result.url) {
      var link = document.createElement("a");
      link.href = result.url; link.textContent = " Ouvrir";
      view.item.appendChild(link);
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = Array.prototype.slice.call(input.files);
    var confirmTraits = form.querySelector("input[name=confirm_traits]").checked;
    list.textContent = "";
    var chain = Promise.resolve();
    var filed = false;
    files.forEach(function (file) {
      var view = line(file.name);
      chain = chain.then(function () { return send(file, confirmTraits, view); }).then(function (result) {
        if (result.status === "needs_confirmation" &&
            window.confirm((result.messages || []).join("\n") + "\n\nConfirmer qu'il s'agit du même patient ?")) {
          return send(file, true, view);
        }
        return result;
      }).then(function (result) {
        show(view, result);
        if (result.status === "imported") { filed = true; }
      });
    });
    chain.then(function () {
      if (filed) {
        var reload = document.createElement("a");
        reload.href = window.location.pathname; reload.textContent = "Actualiser la liste des documents";
        reload.className = "button button--ghost";
        list.appendChild(reload);
      }
    });
  });
})();

// Live updates: the server sends a "train" event with a train's page path
// when that train changes. A page watching that train (or every train)
// fetches itself again and swaps its <main>, keeping the reader's place;
// a change announced while it fetches makes it fetch once more. The pages
// work the same without this script, only without updates.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) return;
  var watch = document.body.getAttribute("data-watch");
  if (!watch) return;
  var status = document.querySelector(".live");
  var pending = false; // a fetch is under way
  var again = false; // a change came during it, which it may not show

  // An update waits while a field of the page holds text (a freeze's
  // reason being typed), so that it is not thrown away; it comes once the
  // field is emptied, or with the page the form posts to.
  var deferred = false;
  function typing() {
    var fields = document.querySelectorAll("main input[type=text]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== "") return true;
    }
    return false;
  }
  document.addEventListener("input", function () {
    if (deferred && !typing()) {
      deferred = false;
      refresh();
    }
  });

  function refresh() {
    if (typing()) {
      deferred = true;
      return;
    }
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    again = false;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (!r.ok) throw new Error("status " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main");
        var main = document.querySelector("main");
        if (typing()) {
          deferred = true;
          return;
        }
        if (fresh && main) {
          main.replaceWith(fresh);
        }
        if (status) status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function () {
        if (status) status.textContent = "Live update failed; reload the page.";
      })
      .finally(function () {
        pending = false;
        if (again) refresh();
      });
  }

  var source = new EventSource("/events");
  source.addEventListener("train", function (e) {
    if (watch === "*" || e.data === watch) refresh();
  });
  source.addEventListener("open", function () {
    if (status) status.textContent = "Live updates on.";
  });
  source.addEventListener("error", function () {
    if (status) status.textContent = "Live updates paused; retrying.";
  });
})();

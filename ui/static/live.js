// Driftline: the live pending count. One EventSource; when the count changes, the pending list (if shown)
// is fetched again as an HTML fragment and swapped in. No page reload, no library.
(function () {
  "use strict";
  var badge = document.getElementById("pending-count");
  if (!badge || !window.EventSource) { return; }
  var source = new EventSource("/events/pending");
  source.addEventListener("pending", function (event) {
    var count = JSON.parse(event.data).count;
    badge.textContent = String(count);
    document.title = document.title.replace(/^\(\d+\) /, "");
    if (count > 0) { document.title = "(" + count + ") " + document.title; }
    var list = document.getElementById("pending-list");
    if (list) {
      fetch("/fragments/pending", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { list.innerHTML = html; })
        .catch(function () { /* the next event tries again */ });
    }
  });
})();

// airkube's live log (not vendored: written here). A running try's page has a
// <pre data-follow="URL">: each `line` event of that stream is appended to it as a text
// node (never parsed as HTML); at `end` (the try ended) the log section is fetched again,
// which then shows the stored log. The stream resumes by itself after a dropped
// connection (EventSource sends Last-Event-ID: the index of the last line it got).
(function () {
  "use strict";

  function follow(pre) {
    if (pre.dataset.following) {
      return;
    }
    pre.dataset.following = "1";
    var source = new EventSource(pre.dataset.follow);
    var note = pre.parentElement.querySelector(".following");
    source.addEventListener("line", function (event) {
      pre.append(event.data + "\n");
      if (note) {
        note.textContent = "following the running pod\u2019s log";
        note = null;
      }
    });
    source.addEventListener("end", function () {
      source.close();
      var section = pre.closest("[data-log-section]");
      if (section && window.htmx) {
        window.htmx.ajax("GET", section.dataset.logSection, { target: section, swap: "innerHTML" });
      }
    });
    // The page leaving closes the stream at once rather than when the server notices.
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function scan(root) {
    root.querySelectorAll("pre[data-follow]").forEach(follow);
  }

  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:afterSettle", function (event) { scan(event.target); });
})();

// Small console behaviours htmx does not cover. No inline scripts: the
// Content-Security-Policy allows only files from /static.
(function () {
  "use strict";
  // After a clicked term is added to a segment expression, put the caret at
  // the end of the text, where the operator goes on typing.
  document.addEventListener("htmx:afterSettle", function (ev) {
    if (!ev.target || ev.target.id !== "segment-builder") return;
    var e = document.getElementById("expr");
    if (!e) return;
    e.focus();
    e.setSelectionRange(e.value.length, e.value.length);
  });
})();

// Results section: sort the adverse-event tables in the page, without a reload.
// Progressive: every heading is a server-side sort link (?ae_sort=...), which still works
// without JS; a table the server cut short (data-truncated="true") keeps the link, so the
// server sorts all of its rows. Text columns sort ascending, group columns by % affected
// descending first; a second click reverses.
(function () {
  "use strict";

  function sortTable(table, th) {
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var col = headers.indexOf(th);
    if (col < 0) return;
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var dir;
    if (current) {
      dir = current === "ascending" ? "descending" : "ascending";
    } else {
      dir = numeric ? "descending" : "ascending";
    }
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var sign = dir === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute("data-v") || "";
      var y = b.cells[col].getAttribute("data-v") || "";
      var c;
      if (numeric) {
        c = (parseFloat(x) || 0) - (parseFloat(y) || 0);
      } else {
        c = x < y ? -1 : x > y ? 1 : 0;
      }
      if (c === 0) {
        var ta = a.cells[0].getAttribute("data-v") || "";
        var tb = b.cells[0].getAttribute("data-v") || "";
        return ta < tb ? -1 : ta > tb ? 1 : 0;
      }
      return sign * c;
    });
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r); });
    body.appendChild(frag);
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    table.setAttribute("data-sorted", th.getAttribute("data-sort") + ":" + dir);
  }

  function onClick(event) {
    var link = event.target.closest ? event.target.closest("a.sort") : null;
    if (!link) return;
    var th = link.closest("th");
    var table = link.closest("table.sortable");
    if (!th || !table || table.getAttribute("data-truncated") === "true") return;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    sortTable(table, th);
  }

  document.addEventListener("click", onClick);
})();

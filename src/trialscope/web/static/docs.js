// Renders /openapi.json as a readable list of endpoints and parameters (no CDN, no inline script).
(function () {
  "use strict";
  var root = document.getElementById("openapi");
  if (!root) return;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  fetch(root.getAttribute("data-spec")).then(function (r) { return r.json(); }).then(function (spec) {
    root.textContent = "";
    Object.keys(spec.paths).forEach(function (path) {
      var ops = spec.paths[path];
      Object.keys(ops).forEach(function (method) {
        var op = ops[method];
        var card = el("article", "card endpoint");
        var h = el("h3");
        h.appendChild(el("span", "method", method.toUpperCase()));
        h.appendChild(el("code", null, " " + path));
        card.appendChild(h);
        if (op.summary) card.appendChild(el("p", null, op.summary));
        var params = op.parameters || [];
        if (params.length) {
          var table = el("table", "params");
          var head = el("tr");
          ["Parameter", "In", "Description"].forEach(function (t) { head.appendChild(el("th", null, t)); });
          var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
          var tbody = el("tbody");
          params.forEach(function (p) {
            var tr = el("tr");
            var name = el("td"); name.appendChild(el("code", null, p.name)); tr.appendChild(name);
            tr.appendChild(el("td", null, p["in"]));
            tr.appendChild(el("td", null, p.description || ""));
            tbody.appendChild(tr);
          });
          table.appendChild(tbody);
          card.appendChild(table);
        }
        root.appendChild(card);
      });
    });
  }).catch(function (err) { root.textContent = "Could not load the OpenAPI description: " + err; });
})();

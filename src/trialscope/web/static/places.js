// As-you-type suggestions for the "Near" box: fills its <datalist> from /places/suggest.
(function () {
  "use strict";
  function attach(input) {
    if (input.dataset.suggestReady) return;
    input.dataset.suggestReady = "1";
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null, last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (q.length < 2 || q === last) return;
        last = q;
        fetch(input.dataset.suggest + "?q=" + encodeURIComponent(q), {headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : {places: []}; })
          .then(function (data) {
            if (input.value.trim() !== q) return;
            list.textContent = "";
            data.places.forEach(function (p) {
              var opt = document.createElement("option");
              opt.value = p.label;
              list.appendChild(opt);
            });
          })
          .catch(function () {});
      }, 150);
    });
  }
  function scan() { document.querySelectorAll("input[data-suggest]").forEach(attach); }
  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:afterSettle", scan);
})();

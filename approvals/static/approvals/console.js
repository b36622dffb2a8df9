/* Suggestions as you type for console search boxes (our own file: no CDN, no inline script).
 *
 * An <input data-suggest-url="…" list="…"> gets its <datalist> filled from the
 * console's suggest endpoint (JSON from the cached Slack directory); the kind
 * comes from data-suggest-kind, or from the select named by
 * data-suggest-kind-field; data-suggest-multiple="true" suggests for the last
 * comma-separated item. Without JavaScript the same box is plain text that the
 * server resolves by name: nothing here is required.
 */
(function () {
  "use strict";

  var DELAY_MS = 150;

  function attach(input) {
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var kindField = document.getElementById(input.dataset.suggestKindField || "");
    var timer = null;
    var latest = 0;

    // A list field ("alice@example.com, @bo"): suggest for the last item, keep the ones before it.
    function parts() {
      var multiple = input.dataset.suggestMultiple === "true";
      var text = input.value;
      var cut = multiple ? Math.max(text.lastIndexOf(","), text.lastIndexOf(";")) : -1;
      return { before: cut < 0 ? "" : text.slice(0, cut + 1).trim() + " ", last: text.slice(cut + 1).trim() };
    }

    function fill(suggestions) {
      var before = parts().before;
      list.replaceChildren();
      suggestions.forEach(function (suggestion) {
        var option = document.createElement("option");
        option.value = before + suggestion.value;
        option.label = suggestion.label;
        option.textContent = suggestion.label;
        list.appendChild(option);
      });
    }

    function ask() {
      var query = parts().last;
      if (!query) { fill([]); return; }
      var url = new URL(input.dataset.suggestUrl, window.location.href);
      url.searchParams.set("q", query);
      url.searchParams.set("kind", kindField ? kindField.value : (input.dataset.suggestKind || "all"));
      var asked = ++latest;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) { if (asked === latest) fill(data.suggestions || []); })
        .catch(function () { /* suggestions are a nicety: the form still works */ });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DELAY_MS);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-suggest-url]").forEach(attach);
  });
})();

/* The team form's holidays: choosing a country lists its states and regions at once.
 *
 * <select data-subdivisions-for="id_holiday_subdivision"> names the subdivision
 * select, whose data-subdivisions-url answers {"subdivisions": [{value, label}]}
 * for ?country=XX. Without JavaScript, a "Show the states and regions" button
 * (class no-js-only, hidden once this runs) re-renders the form instead.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("has-js");

  function attach(country) {
    var subdivision = document.getElementById(country.dataset.subdivisionsFor);
    if (!subdivision || !subdivision.dataset.subdivisionsUrl) return;
    var latest = 0;

    function fill(subdivisions) {
      var chosen = subdivision.value;
      var first = document.createElement("option");
      first.value = "";
      first.textContent = country.value ? "The whole country" : "Choose a country first";
      subdivision.replaceChildren(first);
      subdivisions.forEach(function (item) {
        var option = document.createElement("option");
        option.value = item.value;
        option.textContent = item.label;
        option.selected = item.value === chosen;
        subdivision.appendChild(option);
      });
      subdivision.disabled = false;
    }

    country.addEventListener("change", function () {
      if (!country.value) { fill([]); return; }
      var url = new URL(subdivision.dataset.subdivisionsUrl, window.location.href);
      url.searchParams.set("country", country.value);
      var asked = ++latest;
      subdivision.disabled = true;
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { subdivisions: [] }; })
        .then(function (data) { if (asked === latest) fill(data.subdivisions || []); })
        .catch(function () { subdivision.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-subdivisions-for]").forEach(attach);
  });
})();

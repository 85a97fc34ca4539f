// The header search box: "/" focuses it from anywhere except while typing in a field.
document.addEventListener("keydown", function (event) {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
  var target = event.target;
  var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
  if (tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable)) { return; }
  var box = document.getElementById("header-search");
  if (box) { event.preventDefault(); box.focus(); box.select(); }
});

// Suggestion lists (the header box and the citation type-ahead): ArrowDown / ArrowUp move
// through the options (aria-activedescendant), Enter picks the active one, Escape closes.
(function () {
  function listFor(input) {
    var id = input.getAttribute("aria-controls") || input.getAttribute("data-suggest-list");
    return id ? document.getElementById(id) : null;
  }
  function options(list) { return list ? Array.prototype.slice.call(list.querySelectorAll("[role=option]")) : []; }
  function setActive(input, list, index) {
    var all = options(list);
    all.forEach(function (o, i) { o.classList.toggle("active", i === index); o.setAttribute("aria-selected", i === index ? "true" : "false"); });
    if (index >= 0 && all[index]) {
      if (!all[index].id) { all[index].id = input.id + "-option-" + index; }
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }
  function close(input, list) {
    if (list) { list.innerHTML = ""; }
    input.removeAttribute("aria-activedescendant");
    if (input.getAttribute("role") === "combobox") { input.setAttribute("aria-expanded", "false"); }
  }
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input || !input.matches || !input.matches("[data-suggest-url], [data-suggest-list]")) { return; }
    var list = listFor(input);
    var all = options(list);
    var current = all.findIndex(function (o) { return o.classList.contains("active"); });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!all.length) { return; }
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      setActive(input, list, (current + step + all.length) % all.length);
    } else if (event.key === "Enter" && current >= 0) {
      event.preventDefault();
      var target = all[current].querySelector("a, button") || all[current];
      close(input, input.hasAttribute("data-suggest-url") ? list : null);
      target.click();
    } else if (event.key === "Escape" && all.length) {
      event.preventDefault();
      close(input, list);
    }
  });

  // The header box asks the server (the same gate as the search page) as the reader types.
  var timer = null;
  var asked = 0;
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input || !input.matches || !input.matches("[data-suggest-url]")) { return; }
    var list = listFor(input);
    window.clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2) { close(input, list); return; }
    timer = window.setTimeout(function () {
      var mine = ++asked;
      var url = input.getAttribute("data-suggest-url") + "?q=" + encodeURIComponent(q);
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (mine !== asked || !list) { return; }
          list.innerHTML = html;
          input.setAttribute("aria-expanded", options(list).length ? "true" : "false");
          input.removeAttribute("aria-activedescendant");
        })
        .catch(function () { /* suggestions are a convenience: the form still submits */ });
    }, 200);
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("[data-suggest-url]").forEach(function (input) {
      var list = listFor(input);
      if (list && !list.contains(event.target) && event.target !== input) { close(input, list); }
    });
  });
})();

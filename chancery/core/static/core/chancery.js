// Chancery's small behaviours. No inline scripts anywhere (the CSP forbids them).
document.addEventListener("DOMContentLoaded", function () {
  // Send the CSRF token with every HTMX request (the cookie is HttpOnly, the token is in forms).
  document.body.addEventListener("htmx:configRequest", function (event) {
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (token) { event.detail.headers["X-CSRFToken"] = token.value; }
  });
  // After a fragment swap, move focus to the new content so keyboard and screen-reader users follow.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "main") { event.detail.target.focus({ preventScroll: true }); }
  });
  // The footer's language form returns to the page being read: after an HTMX navigation the
  // footer is not swapped, so its "next" field follows the address bar instead.
  function followLocation() {
    var next = document.querySelectorAll("form input[name=next][data-follow-location]");
    for (var i = 0; i < next.length; i++) { next[i].value = window.location.pathname + window.location.search; }
  }
  ["htmx:pushedIntoHistory", "htmx:replacedInHistory", "htmx:historyRestore", "htmx:afterSettle"].forEach(function (name) {
    document.body.addEventListener(name, followLocation);
  });
  window.addEventListener("popstate", followLocation);
  // Elements marked data-autosubmit submit their form when changed (filters).
  document.body.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.dataset && el.dataset.autosubmit !== undefined && el.form) { el.form.requestSubmit(); }
  });
});

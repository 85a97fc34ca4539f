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
  // Irreversible steps ask first: a form marked data-confirm="what will happen" submits only once
  // the agent agrees. Typed text is never lost silently: a form whose fields changed is "dirty"
  // until it is submitted, and leaving it (a link, another form, closing the tab) asks first.
  // Both listen in the capture phase so that they run before HTMX's own handlers.
  var unsavedMessage = document.body.dataset.unsavedMessage || "";
  function dirtyForms(except) {
    return Array.prototype.filter.call(document.querySelectorAll("form[data-dirty]"), function (form) {
      return form !== except && document.body.contains(form);
    });
  }
  function leavingIsFine(except) {
    return dirtyForms(except).length === 0 || window.confirm(unsavedMessage);
  }
  var notTyped = ["checkbox", "radio", "file", "hidden", "submit", "button", "reset"];
  document.addEventListener("input", function (event) {
    var field = event.target;
    var form = field && field.form;
    var typed = field && (field.tagName === "TEXTAREA" || (field.tagName === "INPUT" && notTyped.indexOf(field.type) < 0));
    if (typed && form && (form.method || "").toLowerCase() === "post" && !form.hasAttribute("data-no-unsaved")) {
      form.setAttribute("data-dirty", "");
    }
  }, true);
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.dataset.confirm;
    if ((question && !window.confirm(question)) || !leavingIsFine(form)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    // Agreed: the other dirty forms are given up knowingly, this one is being saved.
    dirtyForms(null).forEach(function (dirty) { dirty.removeAttribute("data-dirty"); });
  }, true);
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || link.getAttribute("href").charAt(0) === "#" || link.target === "_blank" || link.hasAttribute("download")) { return; }
    if (!leavingIsFine(null)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    dirtyForms(null).forEach(function (dirty) { dirty.removeAttribute("data-dirty"); });
  }, true);
  window.addEventListener("beforeunload", function (event) {
    if (dirtyForms(null).length) { event.preventDefault(); event.returnValue = ""; }
  });
  // Elements marked data-autosubmit submit their form when changed (filters).
  document.body.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.dataset && el.dataset.autosubmit !== undefined && el.form) { el.form.requestSubmit(); }
  });
});

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
  // Rich-text fields (textarea[data-rich-text]) become an editor: Quill, vendored, loaded only
  // where a page has such a field (core/_editor_assets.html says where it is and names its
  // buttons in the reader's language). The text area stays the form's field: it receives the
  // editor's HTML at every change (and so counts as typed text), and the server sanitises it.
  var editorWaiting = null;
  function loadEditor(assets, ready) {
    if (window.Quill) { ready(); return; }
    if (editorWaiting) { editorWaiting.push(ready); return; }
    editorWaiting = [ready];
    var style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = assets.dataset.style;
    document.head.appendChild(style);
    var script = document.createElement("script");
    script.src = assets.dataset.script;
    script.onload = function () { var waiting = editorWaiting; editorWaiting = null; waiting.forEach(function (f) { f(); }); };
    document.head.appendChild(script);
  }
  var TOOLS = [["bold", "", "bold"], ["italic", "", "italic"], ["underline", "", "underline"], ["header", "2", "header2"],
    ["header", "3", "header3"], ["list", "ordered", "ordered"], ["list", "bullet", "bullet"], ["blockquote", "", "blockquote"],
    ["clean", "", "clean"]];
  function semanticHTML(quill) {
    if (quill.getLength() <= 1) { return ""; }
    // Quill writes every space as a no-break space; keep only those French typography wants.
    return quill.getSemanticHTML().replace(/&nbsp;(?![;:!?»])/g, " ").replace(/« /g, "«&nbsp;");
  }
  function makeEditor(textarea, assets) {
    textarea.setAttribute("data-editor-ready", "");
    var labels = assets.dataset;
    var wrapper = document.createElement("div");
    wrapper.className = "rich-editor";
    var toolbar = document.createElement("div");
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", labels.toolbarLabel);
    TOOLS.forEach(function (tool) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "ql-" + tool[0];
      if (tool[1]) { button.value = tool[1]; }
      button.setAttribute("aria-label", labels["label" + tool[2].charAt(0).toUpperCase() + tool[2].slice(1)]);
      button.title = button.getAttribute("aria-label");
      toolbar.appendChild(button);
    });
    var area = document.createElement("div");
    wrapper.appendChild(toolbar);
    wrapper.appendChild(area);
    textarea.parentNode.insertBefore(wrapper, textarea);
    textarea.hidden = true;
    var quill = new window.Quill(area, {
      theme: "snow",
      modules: {
        toolbar: toolbar,
        // Tab leaves the editor, as in any other field (keyboard users are not trapped).
        keyboard: { bindings: { tab: { key: "Tab", handler: function () { return true; } } } }
      }
    });
    if (textarea.value.trim()) { quill.clipboard.dangerouslyPasteHTML(textarea.value, "silent"); }
    var root = quill.root;
    root.setAttribute("role", "textbox");
    root.setAttribute("aria-multiline", "true");
    var label = document.querySelector("label[for='" + textarea.id + "']");
    if (label) {
      if (!label.id) { label.id = textarea.id + "-label"; }
      root.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", function () { quill.focus(); });
    }
    var described = textarea.getAttribute("aria-describedby");
    if (described) { root.setAttribute("aria-describedby", described); }
    if (textarea.getAttribute("aria-invalid") === "true") { root.setAttribute("aria-invalid", "true"); }
    quill.on("text-change", function () {
      textarea.value = semanticHTML(quill);
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }
  function initEditors() {
    var areas = document.querySelectorAll("textarea[data-rich-text]:not([data-editor-ready])");
    var assets = document.querySelector("[data-editor-assets]");
    if (!areas.length || !assets) { return; }
    // Claimed now, not when Quill has loaded: a second call meanwhile (an htmx swap) must not
    // build a second editor on the same field.
    areas.forEach(function (textarea) { textarea.setAttribute("data-editor-ready", ""); });
    loadEditor(assets, function () { areas.forEach(function (textarea) { makeEditor(textarea, assets); }); });
  }
  initEditors();
  document.body.addEventListener("htmx:afterSettle", initEditors);
  // Elements marked data-autosubmit submit their form when changed (filters).
  document.body.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.dataset && el.dataset.autosubmit !== undefined && el.form) { el.form.requestSubmit(); }
  });
});

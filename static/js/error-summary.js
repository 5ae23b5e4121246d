// A refused form: move focus to the list of problems at the top of the page, so that it is
// seen on a small screen and read out by screen readers; each link in it moves focus to its
// field. Without JavaScript the list is still at the top of the page and its links still work.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) return;
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    // A field's label or legend is what the patient reads first: show it above the field.
    var context = field.closest("fieldset, .mb-3, .form-check, section") || field;
    context.scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });
})();

// Saves each tick the moment it is made, without reloading the page.
// Without JavaScript the form's buttons save the ticks instead.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form) return;
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var doneCount = document.querySelector("#ack-count [data-done]");
  var RELOAD = "please reload the page.";

  function updateCount() {
    if (!doneCount) return;
    doneCount.textContent = form.querySelectorAll("input[data-required]:checked").length;
  }

  function save(box, refocus) {
    var status = document.getElementById(box.id + "-status");
    var wanted = box.checked;
    status.textContent = "Saving…";
    box.disabled = true;
    fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "X-CSRFToken": csrf,
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "acknowledged=" + (wanted ? "1" : "0"),
    })
      .then(function (response) {
        // Anything but our JSON is a page (session ended, link closed): reloading shows it.
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") !== 0) throw new Error(RELOAD);
        return response.json().then(function (data) {
          if (!response.ok) throw new Error(data.error || "not saved");
          return data;
        });
      })
      .then(function (data) {
        box.checked = data.acknowledged;
        status.textContent = data.acknowledged ? "Saved." : "Tick removed.";
        updateCount();
      })
      .catch(function (error) {
        box.checked = !wanted;
        status.textContent =
          "Not saved: " + (error.message === "not saved" || error instanceof TypeError
            ? "please check your internet connection and try again."
            : error.message);
      })
      .finally(function () {
        box.disabled = false;
        if (refocus) box.focus();
      });
  }

  form.addEventListener("change", function (event) {
    if (event.target.matches("input[type=checkbox][data-url]")) save(event.target, true);
  });

  // Ticks made while the page was still loading (before this script ran) are saved now.
  form.querySelectorAll("input[type=checkbox][data-url]").forEach(function (box) {
    if (box.checked !== box.defaultChecked) save(box, false);
  });
})();

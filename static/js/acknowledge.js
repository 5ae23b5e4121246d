// Saves each tick the moment it is made, without reloading the page.
// Without JavaScript (or before this script arrives) the page is a plain form: its buttons
// save every tick on the page at once, and the page says so.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form) return;
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var doneCount = document.querySelector("#ack-count [data-done]");
  var NO_CONNECTION = "Not saved: no connection. Tick again when you are back online.";
  var OUR_SIDE = "Not saved: something went wrong on our side. Please try again in a moment.";
  var CLOSED =
    "Not saved: this consent form can no longer be changed. Open your link again to see why.";

  // From now on each tick is saved at once: say so instead of "press Save".
  document.querySelectorAll("[data-saved-by-form]").forEach(function (note) {
    note.hidden = true;
  });
  document.querySelectorAll("[data-saved-at-once]").forEach(function (note) {
    note.hidden = false;
  });

  function updateCount() {
    // Ticks the server has: a box being saved is not counted until the server says so.
    if (!doneCount) return;
    doneCount.textContent = form.querySelectorAll(
      "input[data-required]:checked:not([data-saving])"
    ).length;
  }

  // A refusal that is not a message for the patient: say what to do instead.
  function Refused(message, link) {
    this.message = message;
    this.link = link;
  }

  function refusal(response) {
    if (response.status === 401 || response.status === 403) {
      // The session ended (idle, signed out, the link locked) or its security token changed.
      return new Refused(
        "Not saved: your session ended. Your ticks so far are saved. ",
        { text: "Open your link again to go on.", href: form.getAttribute("action") }
      );
    }
    if (response.status === 404 || response.status === 410) return new Refused(CLOSED);
    return new Refused(OUR_SIDE);
  }

  function show(status, message, link) {
    status.textContent = message;
    if (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      status.appendChild(a);
    }
  }

  // The seconds this risk was on screen, sent with its tick (reading-time.js measures them).
  function reading(box) {
    var id = box.value;
    var seconds = window.consentReading ? window.consentReading.take(id) : 0;
    return seconds ? "&seconds-" + id + "=" + seconds : "";
  }

  function save(box, refocus) {
    var status = document.getElementById(box.id + "-status");
    var wanted = box.checked;
    status.textContent = "Saving…";
    box.disabled = true;
    box.dataset.saving = "";
    fetch(box.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "X-CSRFToken": csrf,
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "acknowledged=" + (wanted ? "1" : "0") + reading(box),
    })
      .then(
        function (response) {
          // Anything but our JSON is a page (session ended, link closed, a proxy's error).
          var type = response.headers.get("Content-Type") || "";
          if (type.indexOf("application/json") !== 0) throw refusal(response);
          return response.json().then(
            function (data) {
              if (!response.ok) {
                throw typeof data.error === "string" && data.error
                  ? new Refused("Not saved: " + data.error)
                  : refusal(response);
              }
              return data;
            },
            function () {
              throw new Refused(OUR_SIDE); // said JSON, was not
            }
          );
        },
        function () {
          throw new Refused(NO_CONNECTION); // the request never got an answer
        }
      )
      .then(function (data) {
        box.checked = data.acknowledged;
        status.textContent = data.acknowledged ? "Saved." : "Tick removed.";
      })
      .catch(function (error) {
        box.checked = !wanted; // back as the server has it
        if (error instanceof Refused) show(status, error.message, error.link);
        else show(status, OUR_SIDE); // never a raw exception
      })
      .finally(function () {
        box.disabled = false;
        delete box.dataset.saving;
        updateCount();
        if (refocus) box.focus();
      });
  }

  form.addEventListener("change", function (event) {
    if (event.target.matches("input[type=checkbox][data-url]")) save(event.target, true);
  });

  // A box being saved is disabled, and a disabled box is not sent with the form: if the
  // patient presses a button meanwhile, send it as it shows.
  form.addEventListener("submit", function () {
    form.querySelectorAll("input[type=checkbox][data-url]:disabled").forEach(function (box) {
      box.disabled = false;
    });
  });

  // Ticks made while the page was still loading (before this script ran) are saved now.
  form.querySelectorAll("input[type=checkbox][data-url]").forEach(function (box) {
    if (box.checked !== box.defaultChecked) save(box, false);
  });
})();

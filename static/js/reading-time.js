// Time on screen for each risk: a second counts for a risk while at least half of it is in
// view (or it fills at least half of the screen) and the tab is visible. The seconds go to
// the server with the tick, with the page's buttons (hidden fields seconds-<id>) and, when the
// page is hidden or left, in a beacon. The server keeps the running total, so it survives a
// reload and another device. Without JavaScript the server counts the time between showing
// the page and the ticks sent with it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-reading-url]");
  if (!form || !("IntersectionObserver" in window)) return;
  var url = form.getAttribute("data-reading-url");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var pending = {}; // risk id -> seconds not yet sent
  var fields = {}; // risk id -> hidden input sent with the form
  var inView = {};
  var leaving = false;

  function field(id) {
    if (!fields[id]) {
      fields[id] = document.createElement("input");
      fields[id].type = "hidden";
      fields[id].name = "seconds-" + id;
      form.appendChild(fields[id]);
    }
    return fields[id];
  }

  function set(id, seconds) {
    pending[id] = seconds;
    field(id).value = String(seconds);
  }

  var observer = new IntersectionObserver(
    function (entries) {
      entries.forEach(function (entry) {
        var id = entry.target.getAttribute("data-reading-item");
        var screen = window.innerHeight || document.documentElement.clientHeight;
        inView[id] =
          entry.isIntersecting &&
          (entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= screen / 2);
      });
    },
    { threshold: [0, 0.25, 0.5, 0.75, 1] }
  );
  document.querySelectorAll("[data-reading-item]").forEach(function (item) {
    observer.observe(item);
  });

  window.setInterval(function () {
    if (document.visibilityState !== "visible") return; // paused while the tab is hidden
    Object.keys(inView).forEach(function (id) {
      if (inView[id]) set(id, (pending[id] || 0) + 1);
    });
  }, 1000);

  // The tick sends the seconds of its own risk (acknowledge.js asks for them).
  window.consentReading = {
    take: function (id) {
      var seconds = pending[id] || 0;
      set(id, 0);
      return seconds;
    },
  };

  function flush() {
    if (leaving || !navigator.sendBeacon) return;
    var data = new FormData();
    var any = false;
    Object.keys(pending).forEach(function (id) {
      if (pending[id] > 0) {
        data.append("seconds-" + id, String(pending[id]));
        any = true;
      }
    });
    if (!any) return;
    data.append("csrfmiddlewaretoken", csrf);
    if (navigator.sendBeacon(url, data)) {
      Object.keys(pending).forEach(function (id) {
        set(id, 0);
      });
    }
  }

  // The form's own buttons carry the hidden fields: no beacon as well, or they count twice.
  form.addEventListener("submit", function () {
    leaving = true;
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });
  window.addEventListener("pagehide", flush);
})();

// The drawn signature: signature_pad on a canvas sized for the screen's pixel density.
// Without JavaScript the pad stays hidden and the patient signs with the typed name.
// A refused Sign (a typo in the name, the box not ticked) sends back the drawing the server
// checked, in the hidden field: it is drawn on the pad again and, unless the patient draws
// more or clears it, sent again exactly as it was.
(function () {
  "use strict";
  var wrapper = document.querySelector("[data-signature-pad]");
  var form = document.getElementById("sign-form");
  if (!wrapper || !form || typeof SignaturePad === "undefined") return;
  wrapper.hidden = false;
  var canvas = wrapper.querySelector("canvas");
  var field = form.querySelector("input[name=signature]");
  var pad = new SignaturePad(canvas, { penColor: "#000", backgroundColor: "rgba(0,0,0,0)" });
  // The drawing kept from a refused Sign (until cleared), and whether it is still unchanged.
  var kept = field.value.indexOf("data:image/png;base64,") === 0 ? field.value : "";
  var unchanged = kept !== "";

  function showKept() {
    // Drawn at the size it was made, from the top left, as the patient saw it.
    var image = new Image();
    image.onload = function () {
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      pad.fromDataURL(kept, {
        ratio: ratio,
        width: image.naturalWidth / ratio,
        height: image.naturalHeight / ratio,
      });
    };
    image.src = kept;
  }

  function resize() {
    // Draw at device pixels so the line is sharp on high-density screens.
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    var data = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    if (kept) showKept();
    pad.fromData(data, { clear: false });
  }
  window.addEventListener("resize", resize);
  resize();

  pad.addEventListener("beginStroke", function () {
    unchanged = false; // drawn on: what is sent is the pad as it is now
  });
  wrapper.querySelector("[data-clear]").addEventListener("click", function () {
    kept = "";
    unchanged = false;
    pad.clear();
    field.value = "";
  });
  form.addEventListener("submit", function () {
    if (unchanged) {
      field.value = kept;
    } else {
      field.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
    }
  });
})();

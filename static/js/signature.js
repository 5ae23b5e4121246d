// The drawn signature: signature_pad on a canvas sized for the screen's pixel density.
// Without JavaScript the pad stays hidden and the patient signs with the typed name.
(function () {
  "use strict";
  var wrapper = document.querySelector("[data-signature-pad]");
  var form = document.getElementById("sign-form");
  if (!wrapper || !form || typeof SignaturePad === "undefined") return;
  wrapper.hidden = false;
  var canvas = wrapper.querySelector("canvas");
  var field = form.querySelector("input[name=signature]");
  var pad = new SignaturePad(canvas, { penColor: "#000", backgroundColor: "rgba(0,0,0,0)" });

  function resize() {
    // Draw at device pixels so the line is sharp on high-density screens.
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    var data = pad.toData();
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    pad.fromData(data);
  }
  window.addEventListener("resize", resize);
  resize();

  wrapper.querySelector("[data-clear]").addEventListener("click", function () {
    pad.clear();
    field.value = "";
  });
  form.addEventListener("submit", function () {
    field.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
  });
})();

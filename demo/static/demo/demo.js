// The demo workspace's few behaviours (no inline script: the CSP forbids it).
// - Switching who you are.
// - Modal elements that dispatch actions (Slack sends block_actions on change): post the form at once,
//   so the app can update the modal (the live preview).
// - Reloading when the workspace changed (the task worker posts a moment after a click), unless you are typing.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var who = document.getElementById("whoami");
  if (who) {
    who.addEventListener("change", function () { window.location.href = who.value; });
  }

  var timeline = document.getElementById("messages");
  if (timeline) { timeline.scrollTop = timeline.scrollHeight; } // the newest at the bottom, in view

  var modal = document.querySelector("form[data-modal]");
  if (modal) {
    modal.querySelectorAll("[data-dispatch]").forEach(function (element) {
      element.addEventListener("change", function () {
        modal.querySelector("input[name=_dispatch]").value = element.getAttribute("data-dispatch");
        modal.submit(); // no validation: a half-filled form still updates its preview
      });
    });
    var first = modal.querySelector(".modal-body select, .modal-body input, .modal-body textarea");
    if (first && !document.activeElement.closest(".modal")) { first.focus(); }
  }

  var body = document.body;
  var pollUrl = body.getAttribute("data-poll-url");
  if (pollUrl && !modal) {
    var composer = document.getElementById("composer");
    window.setInterval(function () {
      var active = document.activeElement;
      var busy = (composer && composer.value) || (active && active.matches("input, textarea, select") && active !== composer);
      if (busy || document.querySelector("details[open]")) { return; }
      fetch(pollUrl, {credentials: "same-origin"}).then(function (response) { return response.json(); })
        .then(function (data) {
          if (data.version && data.version !== body.getAttribute("data-version")) { window.location.reload(); }
        }).catch(function () {});
    }, 1500);
  }
});

/*
 * The page of a background job (templates/core/job.html): asks for the job's status every second or two until it is
 * done or failed, moves the progress bar and, when the file is ready, shows its download link. The status sentence
 * is a polite live region: it changes (and is read out) only when the job's state changes, not with every percent.
 */
(function () {
  "use strict";

  var card = document.querySelector("[data-status-url]");
  if (!card || !window.fetch) {
    return;
  }
  var url = card.getAttribute("data-status-url");
  var bar = document.getElementById("job-progress");
  var percent = document.getElementById("job-percent");
  var message = document.getElementById("job-message");
  var state = card.getAttribute("data-status");
  var delay = 1000;
  var FINAL = { done: true, failed: true, expired: true };

  function show(testid, visible, href) {
    var line = card.querySelector('[data-testid="' + testid + '-line"]');
    if (!line) {
      return;
    }
    line.hidden = !visible;
    if (visible && href) {
      line.querySelector("a").setAttribute("href", href);
    }
  }

  function render(status) {
    if (status.status !== "queued") {
      var value = status.status === "done" ? 100 : status.progress;
      bar.value = value;
      percent.textContent = value + " %";
    }
    if (status.status !== state || message.textContent !== status.message) {
      message.textContent = status.message;
      message.classList.toggle("text-danger", status.status === "failed" || status.status === "expired");
    }
    state = status.status;
    card.setAttribute("data-status", state);
    show("job-file", Boolean(status.file_url), status.file_url);
    show("job-result", Boolean(status.result_url), status.result_url);
    show("job-again", status.status === "failed" || status.status === "expired");
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (status) {
        render(status);
        if (!FINAL[status.status]) {
          delay = Math.min(delay + 250, 3000);
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  // the server is restarting, or the connection dropped: try again later
        window.setTimeout(poll, delay);
      });
  }

  if (!FINAL[state]) {
    window.setTimeout(poll, delay);
  }
}());

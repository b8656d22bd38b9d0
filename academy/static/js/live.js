/*
 * A session's live stream over server-sent events, with reconnect and catch-up.
 *
 *   var live = window.AcademyLive.connect(url, {
 *     after: 42,                            // optional: the last event id the page already shows
 *     onEvent: function (kind, data, id) {},
 *     onStatus: function (state) {}         // "connecting" | "live" | "reconnecting"
 *   });
 *   live.close();
 *
 * EventSource reconnects by itself and sends Last-Event-ID. When the browser gives up (the server answered
 * with an error, or the source was closed), a new EventSource is made with ?after=<last id seen>, so a
 * reconnect never loses or repeats an event. Events are delivered once each, in id order of arrival.
 */
(function () {
  "use strict";

  var KINDS = [
    "participant.joined", "role.assigned", "session.started", "session.paused", "session.resumed",
    "session.ended", "inject.released", "inject.closed", "decision.submitted", "observation.added",
    "score.overridden"
  ];
  var MAX_DELAY = 30000;

  function withAfter(url, after) {
    if (after === null || after === undefined) {
      return url;
    }
    var clean = url.replace(/([?&])after=\d*&?/, "$1").replace(/[?&]$/, "");
    return clean + (clean.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(after);
  }

  function connect(url, handlers) {
    handlers = handlers || {};
    var lastId = handlers.after === undefined ? null : Number(handlers.after);
    var seen = {};
    var source = null;
    var closed = false;
    var delay = 1000;
    var timer = null;
    var state = null;

    function report(next) {
      if (next !== state) {
        state = next;
        if (handlers.onStatus) {
          handlers.onStatus(next);
        }
      }
    }

    function receive(message) {
      var id = Number(message.lastEventId);
      if (id && seen[id]) {
        return;
      }
      if (id) {
        seen[id] = true;
        lastId = lastId === null ? id : Math.max(lastId, id);
      }
      var data = null;
      try {
        data = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (handlers.onEvent) {
        handlers.onEvent(message.type, data, id);
      }
    }

    function open() {
      timer = null;
      if (closed) {
        return;
      }
      report(state === null ? "connecting" : "reconnecting");
      source = new EventSource(withAfter(url, lastId), { withCredentials: true });
      source.onopen = function () {
        delay = 1000;
        report("live");
      };
      source.onerror = function () {
        if (closed) {
          return;
        }
        report("reconnecting");
        if (source.readyState === EventSource.CLOSED) {
          // The browser will not retry on its own (an HTTP error): make a new source after a growing pause.
          source = null;
          timer = window.setTimeout(open, delay);
          delay = Math.min(delay * 2, MAX_DELAY);
        }
      };
      source.onmessage = receive;
      KINDS.concat(handlers.kinds || []).forEach(function (kind) {
        source.addEventListener(kind, receive);
      });
    }

    function close() {
      closed = true;
      if (timer) {
        window.clearTimeout(timer);
      }
      if (source) {
        source.close();
      }
    }

    window.addEventListener("pagehide", function () {
      if (source) {
        source.close();
        source = null;
      }
    });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && !closed && !source && !timer) {
        open();  // back from the page cache: catch up from the last id seen
      }
    });
    open();
    return { close: close, lastId: function () { return lastId; } };
  }

  // Exercise time as mm:ss, or h:mm:ss from the first hour on (as the server writes it: tabletop/report.py clock).
  function formatClock(seconds) {
    var total = Math.max(0, Math.floor(Number(seconds) || 0));
    var hours = Math.floor(total / 3600);
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    var mmss = two(Math.floor((total % 3600) / 60)) + ":" + two(total % 60);
    return hours ? hours + ":" + mmss : mmss;
  }

  window.AcademyLive = { connect: connect, formatClock: formatClock };
}());

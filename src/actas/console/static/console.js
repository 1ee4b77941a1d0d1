/* actas console: local times and countdowns. No inline script anywhere: this file and the
   vendored htmx are the only scripts the Content-Security-Policy lets run. */
(function () {
  "use strict";

  var ZONE = /^[A-Za-z][A-Za-z0-9_+\-\/]{0,63}$/;

  function browserZone() {
    try {
      var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
      return tz && ZONE.test(tz) ? tz : null;
    } catch (e) {
      return null;
    }
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function localText(date, tz, seconds) {
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
      timeZoneName: "short"
    }).formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
      parts.minute + (seconds ? ":" + parts.second : "") + " " + (parts.timeZoneName || tz);
  }

  function localise(root, tz) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      var seconds = el.getAttribute("data-local") === "seconds";
      if (!isNaN(at)) { el.textContent = localText(at, tz, seconds); }
    });
    // The footer names the zone the times are now in, not the server's first guess (UTC).
    var name = document.getElementById("tz-name");
    if (name) { name.textContent = tz; }
    var hover = document.getElementById("tz-hover");
    if (hover) { hover.hidden = tz === "UTC"; }
  }

  function keepAddress() {
    // A form that failed is shown again as the page it came from: put that page's address
    // in the address bar, so a reload does not post again and a bookmark is a page.
    var url = document.body.getAttribute("data-url");
    if (url && url.charAt(0) === "/" && url.charAt(1) !== "/" &&
        url !== location.pathname + location.search) {
      history.replaceState(null, "", url);
    }
  }

  function leftText(until) {
    var seconds = Math.floor((until - Date.now()) / 1000);
    if (seconds <= 0) { return "ended"; }
    var minutes = Math.floor(seconds / 60);
    var hours = Math.floor(minutes / 60);
    if (hours) { return hours + " h " + (minutes % 60) + " min left"; }
    return minutes + " min " + pad(seconds % 60) + " s left";
  }

  function tick() {
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      var until = Date.parse(el.getAttribute("data-until"));
      if (isNaN(until)) { return; }
      var text = leftText(until);
      if (el.textContent !== text) { el.textContent = text; }
      if (text === "ended") { el.classList.add("ended"); }
    });
  }

  function start() {
    keepAddress();
    var tz = browserZone();
    if (tz && document.body.getAttribute("data-tz") !== tz) {
      // The server renders times in this zone from the next page on.
      // __Host-: Secure and Path=/ or the browser refuses it (localhost counts as secure).
      document.cookie = "__Host-actas_tz=" + tz + "; path=/; max-age=31536000; samesite=strict; secure";
      localise(document, tz);
      document.body.addEventListener("htmx:afterSwap", function (event) {
        localise(event.target, tz);
      });
    }
    tick();
    window.setInterval(tick, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

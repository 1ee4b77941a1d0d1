// A stand-in for a product analytics snippet. While support acts as a user, the actas SDK
// removes this tag from the page, so nothing here runs and no event is recorded for the user.
(function () {
  window.notesAnalytics = { loaded: true, page: location.pathname };
  document.documentElement.setAttribute("data-analytics", "loaded");
})();

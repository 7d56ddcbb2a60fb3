// Served by the core server (core_server/web/viewer/scripts/session-guard.js), loaded by
// OHIF's index.html before its own scripts. When the session has ended (signed out elsewhere,
// expired, idle too long) OHIF's requests get 401: its QIDO/metadata errors reach
// config.httpErrorHandler, but an image loader's do not and the viewport just stays black.
// This watches every request and sends the user to sign in, then back to the same view.
(function () {
  var leaving = false;
  function signIn() {
    if (leaving) { return; }
    leaving = true;
    window.location.assign('/login?next=' +
      encodeURIComponent(window.location.pathname + window.location.search));
  }
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function () {
    this.addEventListener('load', function () { if (this.status === 401) { signIn(); } });
    return send.apply(this, arguments);
  };
  var originalFetch = window.fetch;
  window.fetch = function () {
    return originalFetch.apply(this, arguments).then(function (response) {
      if (response.status === 401) { signIn(); }
      return response;
    });
  };
})();
